// Test support: a Python program started under the agent with its capture going into a pipe (and its
// output into pipes), the way `memlens run --live` would start it, with the session told how it ended.

import { resolve } from 'node:path';
import { findAgent } from '../../src/process/agent-files.js';
import { exitRecord } from '../../src/process/finish.js';
import { type ChildExit, type Launched, launch } from '../../src/process/launch.js';
import { signalNumber } from '../../src/util/signals.js';
import type { LiveSession } from '../../src/live/live-session.js';
import type { OutputTail } from '../../src/live/output-tail.js';

export interface LiveLaunch {
  readonly launched: Launched;
  /** The capture bytes (the agent's pipe). */
  readonly capture: NonNullable<Launched['capture']>;
  /** Resolves when the program ended and the session was told how. */
  readonly ended: Promise<ChildExit>;
}

export async function launchLive(
  o: { python: string; script: string; args?: readonly string[]; cwd: string; aggregate?: boolean; intervalMs?: number },
  session: LiveSession,
  tail?: OutputTail,
): Promise<LiveLaunch> {
  const files = findAgent();
  const env = { ...process.env };
  delete env['MEMLENS_AGENT_SANITIZE'];
  const launched = await launch({
    python: o.python,
    files,
    target: { kind: 'script', path: resolve(o.cwd, o.script), args: o.args ?? [] },
    cwd: o.cwd,
    env,
    config: { agent: files.library, memory_interval_ms: o.intervalMs ?? 10, aggregate: o.aggregate === true },
    pipes: { capture: true, output: true },
  });
  if (launched.capture === undefined) throw new Error('launch gave no capture pipe');
  if (tail !== undefined) {
    launched.stdout?.on('data', (d: Buffer) => tail.push('stdout', d)).on('end', () => tail.end('stdout'));
    launched.stderr?.on('data', (d: Buffer) => tail.push('stderr', d)).on('end', () => tail.end('stderr'));
  } else {
    launched.stdout?.resume();
    launched.stderr?.resume();
  }
  const ended = launched.exited.then((end) => {
    session.noteExit(exitRecord(session.model().header, { code: end.code, signal: signalNumber(end.signal), endMonoNs: end.endMonoNs, oomKill: end.signal === 'SIGKILL' ? 2 : 0, detail: '' }));
    return end;
  });
  return { launched, capture: launched.capture, ended };
}
