#!/usr/bin/env node
// The only place that exits the process: main() returns the exit code.
import { run } from '../dist/src/cli/bin.js';
run();
