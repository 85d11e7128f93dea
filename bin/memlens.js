#!/usr/bin/env -S node --single-threaded
// --single-threaded: see src/util/node-flags.ts (a hang at exit in node itself). Started as
// `node bin/memlens.js`, memlens relaunches itself with it.
// The only place that exits the process: main() returns the exit code.
// The CLI runs from its bundle (bin/cli-bundle.js), or from dist/src when only tsc has run.
import { runBundle } from './cli-bundle.js';

if (!runBundle()) {
  const { run } = await import('../dist/src/cli/bin.js');
  run();
}
