// An Io for driving main() in-process: captures stdout and stderr as strings.

import { type Io, NO_INPUT } from '../../src/cli/io.js';

export interface FakeIo extends Io {
  readonly out: () => string;
  readonly err: () => string;
}

export function fakeIo(cwd: string, options: { stdoutTTY?: boolean; stderrTTY?: boolean; env?: Record<string, string> } = {}): FakeIo {
  const out: string[] = [];
  const err: string[] = [];
  let t = 0;
  const dec = new TextDecoder();
  return {
    stdin: NO_INPUT,
    stdout: { write: (c) => (out.push(typeof c === 'string' ? c : dec.decode(c)), true), isTTY: options.stdoutTTY ?? false, columns: 100 },
    stderr: { write: (c) => (err.push(typeof c === 'string' ? c : dec.decode(c)), true), isTTY: options.stderrTTY ?? false, columns: 100 },
    env: options.env ?? {},
    cwd,
    now: () => (t += 50),
    out: () => out.join(''),
    err: () => err.join(''),
  };
}
