// An in-memory Io for driving main() in tests: captures stdout and stderr, fixed width, no colour.

import { type Io, NO_INPUT } from '../../src/cli/io.js';

export interface MemoryIo extends Io {
  readonly out: () => string;
  readonly err: () => string;
  readonly outBytes: () => Uint8Array;
}

export function memoryIo(options: { cwd?: string; columns?: number; tty?: boolean; env?: Record<string, string> } = {}): MemoryIo {
  const out: Uint8Array[] = [];
  const err: string[] = [];
  const enc = new TextEncoder();
  return {
    stdin: NO_INPUT,
    stdout: {
      write(chunk: string | Uint8Array): boolean {
        out.push(typeof chunk === 'string' ? enc.encode(chunk) : chunk.slice());
        return true;
      },
      isTTY: options.tty ?? false,
      columns: options.columns ?? 100,
    },
    stderr: {
      write(chunk: string | Uint8Array): boolean {
        err.push(typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk));
        return true;
      },
      isTTY: false,
    },
    env: { COLUMNS: String(options.columns ?? 100), ...(options.env ?? {}) },
    cwd: options.cwd ?? '/',
    now: () => 0,
    out: () => new TextDecoder().decode(Buffer.concat(out)),
    err: () => err.join(''),
    outBytes: () => new Uint8Array(Buffer.concat(out)),
  };
}
