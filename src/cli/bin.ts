// The process edge: real stdio, real exit code. bin/memlens.js calls run().

import { toTerminal } from '../util/terminal-text.js';
import { processIo } from './io.js';
import { main } from './main.js';
import { hasNodeFlags, relaunchWithNodeFlags } from '../util/node-flags.js';
import { mayUseTls, restoreExtraCaCerts } from '../util/extra-ca.js';

export function run(): void {
  // First: the program memlens runs, and every process it starts, see NODE_EXTRA_CA_CERTS as the user set it.
  // A push over https needs its certificates in this node, which started without them: start again with them.
  const caDeferred = restoreExtraCaCerts();
  if (!hasNodeFlags() || (caDeferred && mayUseTls(process.argv.slice(2), process.env))) {
    relaunchWithNodeFlags();
    return;
  }
  // processIo's stdout ends memlens quietly when a reader closes the pipe (memlens parse FILE | head).
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
