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

const { runBundle } = require('./cli-bundle.js');

if (!runBundle()) {
  void import('../dist/src/cli/bin.js').then(({ run }) => run());
}
