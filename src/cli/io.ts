// What a command may touch of the outside world, passed in so tests can drive main() in-process.

import type { TerminalInput } from '../util/terminal-screen.js';
import { escapeLine } from '../util/terminal-text.js';

/** Standard input: keys for the interactive views (raw mode on a terminal). */
export type InputStream = TerminalInput;

export interface OutputStream {
  write(chunk: string | Uint8Array): boolean;
  /** A terminal, so colour and progress bars make sense. */
  readonly isTTY?: boolean | undefined;
  /** Terminal width and height when isTTY. */
  readonly columns?: number | undefined;
  readonly rows?: number | undefined;
  /** The error of a write that failed (set at once; node's stream emits 'error' later). */
  readonly errored?: Error | null | undefined;
  /** For writers that produce a lot: wait for 'drain' after write() returned false (a pipe filled up). */
  once?(event: 'drain', listener: () => void): unknown;
  /** A terminal's size changed (full-screen views redraw). */
  on?(event: 'resize', listener: () => void): unknown;
  off?(event: 'resize', listener: () => void): unknown;
}

export interface Io {
  readonly stdin: InputStream;
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Milliseconds, monotonic; injected so progress output can be tested. */
  now(): number;
  /**
   * Ends memlens by `signal` as the program it ran ended (`memlens run`: a shell must see the same death).
   * Absent in tests that drive main() in-process: the command then returns 128 + the signal's number.
   */
  killSelf?(signal: NodeJS.Signals): void;
}

export function processIo(): Io {
  let stdout: NodeJS.WriteStream | undefined;
  return {
    // A getter: process.stdin is made on first use, and for a file or /dev/null (a script's, a service's)
    // that loads node's file streams and, behind them, fs/promises and readline: about 3 ms of every start
    // of a command that never reads it, as `memlens run` (docs/benchmarks.md, "The fixed cost, round three").
    get stdin() {
      return process.stdin;
    },
    // A getter as well: a pipe's or a file's stream costs 0.3-0.6 ms to make, and `memlens run -q` never
    // writes to it.
    get stdout() {
      if (stdout === undefined) {
        stdout = process.stdout;
        // A closed pipe (memlens parse FILE | head) is a normal way for a reader to stop. Another failed
        // write (a full disk, /dev/full) ends memlens with one line, not a stack trace; a command that saw
        // it first (stdout.errored: export) has said so already and set the exit status.
        stdout.on('error', (e: NodeJS.ErrnoException) => {
          if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
          if (typeof process.exitCode === 'number' && process.exitCode !== 0) process.exit(process.exitCode);
          process.stderr.write(`memlens: error: cannot write to standard output: ${escapeLine(e.code ?? e.message)}\n`);
          process.exit(1);
        });
      }
      return stdout;
    },
    // A getter too: process.stderr is a stream to make (1 ms for a pipe), and `memlens run -q` of a program
    // that goes well never writes to it (docs/benchmarks.md, "The fixed cost, round five").
    get stderr() {
      return process.stderr;
    },
    env: process.env,
    cwd: process.cwd(),
    // process.hrtime rather than performance.now(): the global `performance` loads perf_hooks (1 ms).
    now: monotonicMs,
    killSelf: (signal) => {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    },
  };
}

/** Milliseconds on a monotonic clock (CLOCK_MONOTONIC), without loading perf_hooks. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** A standard input with nothing to read and no terminal (for driving main() in-process). */
export const NO_INPUT: InputStream = { isTTY: false, on: () => undefined, off: () => undefined, resume: () => undefined, pause: () => undefined };

/** Colour on stdout only for a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function wantsColor(io: Io, stream: OutputStream = io.stdout): boolean {
  if (io.env['NO_COLOR'] !== undefined && io.env['NO_COLOR'] !== '') return false;
  if (io.env['FORCE_COLOR'] !== undefined && io.env['FORCE_COLOR'] !== '0') return true;
  return stream.isTTY === true;
}

export function terminalColumns(io: Io, stream: OutputStream = io.stdout): number {
  const fromEnv = Number(io.env['COLUMNS']);
  if (Number.isInteger(fromEnv) && fromEnv > 20) return fromEnv;
  return stream.isTTY === true && stream.columns !== undefined && stream.columns > 20 ? stream.columns : 100;
}
