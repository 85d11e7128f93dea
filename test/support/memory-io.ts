// The one in-memory Io for driving main() in-process: stdout kept as bytes (binary exports read back
// whole), stderr as text, a fixed width, no colour unless a test asks for a terminal or sets the
// environment, and a clock that moves 50 ms at each reading (so throttled progress output is testable).
// A test that needs the real terminal, signals or child processes of memlens runs bin/memlens.js
// instead (test/support/memlens-run.ts).

import { type Io, NO_INPUT } from '../../src/cli/io.js';

export interface MemoryIo extends Io {
  readonly out: () => string;
  readonly err: () => string;
  readonly outBytes: () => Uint8Array;
}

export interface MemoryIoOptions {
  /** The directory relative paths resolve against (default /). */
  readonly cwd?: string;
  /** Terminal width, for both streams and as COLUMNS (default 100). */
  readonly columns?: number;
  readonly stdoutTTY?: boolean;
  readonly stderrTTY?: boolean;
  /** The environment main() sees (and passes to the programs it starts), besides COLUMNS. */
  readonly env?: Record<string, string>;
}

export function memoryIo(options: MemoryIoOptions = {}): MemoryIo {
  const out: Uint8Array[] = [];
  const err: string[] = [];
  const enc = new TextEncoder();
  const columns = options.columns ?? 100;
  let t = 0;
  return {
    stdin: NO_INPUT,
    stdout: {
      write(chunk: string | Uint8Array): boolean {
        out.push(typeof chunk === 'string' ? enc.encode(chunk) : chunk.slice());
        return true;
      },
      isTTY: options.stdoutTTY ?? false,
      columns,
    },
    stderr: {
      write(chunk: string | Uint8Array): boolean {
        err.push(typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk));
        return true;
      },
      isTTY: options.stderrTTY ?? false,
      columns,
    },
    env: { COLUMNS: String(columns), ...(options.env ?? {}) },
    cwd: options.cwd ?? '/',
    now: () => (t += 50),
    out: () => new TextDecoder().decode(Buffer.concat(out)),
    err: () => err.join(''),
    outBytes: () => new Uint8Array(Buffer.concat(out)),
  };
}
