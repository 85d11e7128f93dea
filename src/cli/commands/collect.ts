// memlens _collect PID DIR (internal): started in the background by `memlens attach --duration`; waits for
// tracking to end (the attach directory's "ended" file, or the end of the process), then finalizes the
// capture like `memlens detach` does.

import { existsSync } from 'node:fs';
import { UsageError } from '../../errors.js';
import type { Command } from '../command.js';

export const collectCommand: Command = {
  name: '_collect',
  hidden: true,
  summary: 'internal: finalize a background attach session',
  usage: 'PID DIR',
  options: {},
  async run(ctx, _options, positionals) {
    const [rawPid, targetDir] = positionals;
    const pid = Number(rawPid);
    if (targetDir === undefined || !Number.isSafeInteger(pid)) throw new UsageError('_collect: PID DIR');
    const t = await import('../../process/attach.js');
    const { isAlive } = await import('../../process/proc.js');
    // Started with the attach directory as working directory (spawnCollector in attach.ts): relative paths reach it.
    const session = { hostDir: '.', targetDir };
    const state = t.readSessionState(session);
    while (!existsSync('ended') && isAlive(pid) && existsSync('state.json')) {
      await new Promise((r) => setTimeout(r, 200));
    }
    if (!existsSync('state.json')) return 0; // memlens detach finalized it already
    const { finalizeCapture } = await import('../attach-finalize.js');
    await finalizeCapture(ctx.io, pid, session, state);
    return 0;
  },
};
