#!/usr/bin/env -S node --single-threaded
// --single-threaded: see src/util/node-flags.ts (a hang at exit in node itself). Started as
// `node bin/memlens.js`, memlens relaunches itself with it.
// The only place that exits the process: main() returns the exit code.
// The CLI runs from its bundle (bin/cli-bundle.js), or from dist/src when only tsc has run.
// CommonJS (bin/package.json): node's ES module loader is not needed to start the bundle (cli-bundle.js).

'use strict';

const { runBundle } = require('./cli-bundle.js');

if (!runBundle()) {
  void import('../dist/src/cli/bin.js').then(({ run }) => run());
}
