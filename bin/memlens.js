#!/usr/bin/env -S node --single-threaded
// --single-threaded: see src/util/node-flags.ts (a hang at exit in node itself). Started as
// `node bin/memlens.js`, memlens relaunches itself with it.
// The only place that exits the process: main() returns the exit code.
import { run } from '../dist/src/cli/bin.js';
run();
