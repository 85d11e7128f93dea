// memlens detach PID: stops tracking that `memlens attach` started, finalizes the capture, and removes
// every hook and file memlens placed in the process.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TargetError } from '../../errors.js';
import type { Command, CommandContext, OptionValues } from '../command.js';
import { escapeLine } from '../../util/terminal-text.js';

export const detachCommand: Command = {
  name: 'detach',
  summary: 'Stop tracking a process that memlens attach started, and finalize its capture',
  usage: 'PID',
  options: {
    method: { type: 'string', value: 'METHOD', description: 'auto (default), remote-exec, gdb or lldb' },
    timeout: { type: 'string', value: 'SECONDS', description: 'How long to wait for the target to run Python (default 30)' },
  },
  async run(ctx, options, positionals) {
    return detach(ctx, options, positionals);
  },
};

async function detach(ctx: CommandContext, options: OptionValues, positionals: readonly string[]): Promise<number> {
  const { io } = ctx;
  const { methodOf, parsePid, secondsOf } = await import('../pid-options.js');
  const pid = parsePid('detach', positionals);
  const method = methodOf('detach', options);
  const timeout = secondsOf('detach', options, 'timeout', 30) ?? 30;
  const t = await import('../../process/attach.js');
  const { isAlive } = await import('../../process/proc.js');
  if (!isAlive(pid)) throw new TargetError(`no process with PID ${pid}`, { hint: 'Check the PID with `ps` or `pgrep -f`.' });
  const sessions = t.findSessions(pid);
  const session = sessions[sessions.length - 1];
  if (session === undefined) {
    throw new TargetError(`PID ${pid} is not being tracked: no earlier 'memlens attach' left its files in the process`, {
      hint: `Start tracking with 'memlens attach ${pid} -o FILE'.`,
    });
  }
  const state = t.readSessionState(session);
  if (!existsSync(join(session.hostDir, 'ended'))) {
    const { findAgent } = await import('../../process/agent-files.js');
    const target = t.inspectTarget(pid);
    const outcome = await t.runInTarget(target, { action: 'detach', session, agentLibrary: findAgent().library, duration: undefined, config: {} }, { method, timeoutMs: timeout * 1000 });
    if (ctx.verbose) for (const l of outcome.log) io.stderr.write(`${l}\n`);
    if (!outcome.status.startsWith('ok') && !outcome.status.includes('not tracking')) {
      throw new TargetError(`PID ${pid}: ${t.statusLine(outcome.status).replace(/^error:\s*/, '')}`);
    }
  }
  const { finalizeCapture } = await import('../attach-finalize.js');
  const path = await finalizeCapture(io, pid, session, state);
  io.stderr.write(`memlens: stopped tracking PID ${pid}${path !== undefined ? `; capture in ${escapeLine(path)}` : ''}\n`);
  if (path !== undefined) io.stderr.write(`memlens: for a report, run: memlens summary ${escapeLine(path)}\n`);
  return 0;
}
