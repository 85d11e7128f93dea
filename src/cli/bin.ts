// The process edge: real stdio, real exit code. bin/memlens.js calls run().

import { toTerminal } from '../util/terminal-text.js';
import { processIo } from './io.js';
import { main } from './main.js';
import { hasNodeFlags, relaunchWithNodeFlags } from '../util/node-flags.js';

export function run(): void {
  if (!hasNodeFlags()) {
    relaunchWithNodeFlags();
    return;
  }
  // A closed pipe (memlens parse FILE | head) is a normal way for a reader to stop.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  main(process.argv.slice(2), processIo()).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(toTerminal(`memlens: internal error (please report it): ${String(e)}\n`));
      process.exitCode = 70;
    },
  );
}
