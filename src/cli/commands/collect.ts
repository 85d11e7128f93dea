// memlens _collect PID NAME KEY (internal): started in the background by `memlens attach -o`, with the
// target's /tmp and the attach directory NAME open as descriptors 3 and 4; waits for tracking to end (the
// attach directory's "ended" file, or the end of the process), then finalizes the capture like
// `memlens detach` does. A target the kernel's OOM killer ended gets an EXIT record saying so. If `memlens detach` finalized it first (the session's state is gone), it stops.

import { UsageError } from '../../errors.js';
import type { Command } from '../command.js';

export const collectCommand: Command = {
  name: '_collect',
  hidden: true,
  summary: 'internal: finalize a background attach session',
  usage: 'PID NAME KEY',
  options: {},
  async run(ctx, _options, positionals) {
    const [rawPid, name, key] = positionals;
    const pid = Number(rawPid);
    if (name === undefined || key === undefined || !Number.isSafeInteger(pid)) throw new UsageError('_collect: PID NAME KEY');
    const t = await import('../../process/attach.js');
    const { isAlive } = await import('../../process/proc.js');
    const session = t.inheritedSession(3, 4, name, key);
    const state = t.readSessionState(session);
    while (!t.hasSessionFile(session, 'ended') && isAlive(pid) && t.sessionPending(session)) {
      await new Promise((r) => setTimeout(r, 200));
    }
    if (!t.sessionPending(session)) return 0; // memlens detach finalized it already
    // The target died while tracked, without the end of tracking: if the kernel's log says its OOM killer
    // did it, the capture gets an EXIT record that says so (memlens is not its parent: nothing else is known).
    let oomLine: string | undefined;
    if (!t.hasSessionFile(session, 'ended') && !isAlive(pid)) {
      const { findOomKillLine, kernelClockUs } = await import('../../process/kernel-log.js');
      oomLine = findOomKillLine(pid, kernelClockUs() - Math.max(0, Date.now() - state.startedAt) * 1000);
    }
    const { finalizeCapture } = await import('../attach-finalize.js');
    await finalizeCapture(ctx.io, pid, session, state, oomLine);
    return 0;
  },
};
