#!/usr/bin/env -S MLENS_CA=${NODE_EXTRA_CA_CERTS} NODE_EXTRA_CA_CERTS= node --single-threaded-gc --no-concurrent-recompilation
// --single-threaded-gc --no-concurrent-recompilation: see src/util/node-flags.ts (a hang at exit in node
// itself). Started as `node bin/memlens.js`, memlens relaunches itself with them. The line stays within 127
// characters, all that Linux before 5.1 reads of it (hence MLENS_CA, a short name).
// NODE_EXTRA_CA_CERTS is set aside while node starts (env -S expands ${...}, the value kept as it is): Node
// 20 parses the whole file it names at every start, 40 ms of CPU for a common bundle; memlens puts it back
// at once, and starts again with it to push over https (src/util/extra-ca.ts).
// The only place that exits the process: main() returns the exit code.
// The CLI runs from its bundle (bin/cli-bundle.js), or from dist/src when only tsc has run.
// CommonJS (bin/package.json): node's ES module loader is not needed to start the bundle (cli-bundle.js).

'use strict';

const { runBundle, REPORT_COMMANDS } = require('./cli-bundle.js');

// A report loads the reports' library (native/mmap_threshold.c, src/util/malloc-tuning.ts) before its bundle
// runs, not only just before its read: loading it unmaps the pages of node's executable and libraries that
// node's start touched, and node's start with the bundle's was the peak of a report on a small capture
// (churn stats: 42.6 MiB max RSS with the load before the read alone, 40.0-40.2 with this one too; memray 44.9).
// The second load, before the read, drops what the bundle's start touched. From the package's own directory
// only, as malloc-tuning.ts; any failure leaves the report as it was.
if (process.platform === 'linux' && REPORT_COMMANDS.has(process.argv[2])) {
  try {
    process.dlopen({ exports: {} }, require('node:path').join(__dirname, '..', 'agent', 'build', 'libmemlens_mmap.so'));
  } catch {
    // Missing, or not loadable here (musl, another architecture).
  }
}

if (!runBundle()) {
  void import('../dist/src/cli/bin.js').then(({ run }) => run());
}
