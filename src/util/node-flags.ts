// The flags every memlens node process runs with, and the relaunch that adds them when node was started
// without them (`node bin/memlens.js ...` rather than the `memlens` executable, whose first line has them).
//
// --single-threaded-gc --no-concurrent-recompilation: Node 20 (and later, so far) can hang forever at exit
// when a V8 background compile job asks the main thread for a garbage collection just as the main thread
// waits for background jobs to finish, at the end of the event loop or in process.exit (nodejs/node#54918).
// We saw it here about once in 100 `memlens run` invocations on a loaded machine: the capture was complete,
// but memlens never exited. Without background V8 tasks the wait cannot happen: these two flags are what
// V8's --single-threaded sets for JavaScript (no background garbage collection, no background optimizing
// compiles; `node --print-flag-values`), without its WebAssembly flags, which change V8's flag hash: with
// --single-threaded V8 refused the code cache node embeds for its own modules, and each start compiled
// child_process, net, stream and zlib from source, 8 ms of CPU (docs/benchmarks.md, "The fixed cost, round
// five"). memlens runs no WebAssembly of its own (fetch's HTTP parser, for a push, compiles as it would).
// Measured cost of --single-threaded on `memlens summary` of a 10 M-event capture: about 7 % more time,
// 8 % less memory (docs/benchmarks.md, "Reports").
// Not --max-semi-space-size=2 (V8's young generation capped at 2 × 2 MiB): 3–4 MiB less peak RSS for the
// reports of a 50 M-event capture in the same CPU time, but 10 % more CPU time for reports that build
// hundreds of MiB of objects (deep stacks), docs/benchmarks.md "Report memory". The reports hold V8's young
// generation small at run time instead (src/util/report-flags.ts); there is no room for a flag on
// bin/memlens.js's first line.

import type * as ChildProcess from 'node:child_process';
import { createRequire } from 'node:module';
import { escapeLine } from './terminal-text.js';

export const NODE_FLAGS: readonly string[] = ['--single-threaded-gc', '--no-concurrent-recompilation'];

/** True when this process runs with NODE_FLAGS. */
export function hasNodeFlags(execArgv: readonly string[] = process.execArgv): boolean {
  return NODE_FLAGS.every((f) => execArgv.includes(f));
}

/** The arguments for running `script` under node with NODE_FLAGS (and the caller's other node flags). */
export function nodeArgs(script: string, args: readonly string[], execArgv: readonly string[] = process.execArgv): string[] {
  return [...NODE_FLAGS, ...execArgv.filter((f) => !NODE_FLAGS.includes(f)), script, ...args];
}

// Signals the terminal sends to the whole foreground process group reach the relaunched memlens directly;
// forwarding them as well would deliver them twice, so this process only ignores them and ends as the
// relaunched one ends. Ctrl-Z (SIGTSTP) keeps its default: both processes stop, the shell sees this one
// stopped, and `fg` continues the whole group. The other signals are forwarded.
const GROUP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGQUIT'];
const FORWARDED: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'];

/**
 * Runs this same memlens again under node with NODE_FLAGS, with the same stdio, and ends as it ends: its
 * exit status, or the signal that killed it.
 */
export function relaunchWithNodeFlags(): void {
  const script = process.argv[1] ?? '';
  // Required here, not imported: every memlens process imports this module, and node:child_process (with
  // node:net and node:dgram under it) is about 1 MiB of resident memory that a report does not otherwise load.
  const { spawn } = createRequire(import.meta.url)('node:child_process') as typeof ChildProcess;
  const child = spawn(process.execPath, nodeArgs(script, process.argv.slice(2)), { stdio: 'inherit' });
  const ignore = (): void => undefined;
  for (const s of GROUP_SIGNALS) process.on(s, ignore);
  const forward = (s: NodeJS.Signals): void => {
    child.kill(s);
  };
  for (const s of FORWARDED) process.on(s, forward);
  child.on('error', (e) => {
    process.stderr.write(`memlens: error: cannot start ${escapeLine(process.execPath)}: ${escapeLine(e.message)}\n`);
    process.exitCode = 70;
  });
  child.on('exit', (code, signal) => {
    for (const s of [...GROUP_SIGNALS, ...FORWARDED]) process.removeAllListeners(s);
    if (signal !== null) {
      process.kill(process.pid, signal);
      return;
    }
    process.exitCode = code ?? 70;
  });
}
