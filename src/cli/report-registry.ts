// The commands that read a capture and report on it, alone: the registry of the reports' bundle
// (dist/memlens-reports.cjs, scripts/cli-bundle.mjs), which bin/cli-bundle.js starts for these commands
// instead of the whole CLI, so that a report neither holds nor compiles the code of `run`, `attach` and
// the live view (docs/benchmarks.md, "The CLI's own code at a report's peak"). Their names and aliases are
// listed again in bin/cli-bundle.js (REPORT_COMMANDS), which must choose the bundle before any of this loads;
// src/cli/report-registry.test.ts holds the two lists equal. cli/registry.ts lists these with the others.

import { findCommandIn, type Command } from './command.js';
import { diffCommand } from './commands/diff.js';
import { exportCommand } from './commands/export.js';
import { flamegraphCommand } from './commands/flamegraph.js';
import { parseCommand } from './commands/parse.js';
import { resultsCommand } from './commands/results.js';
import { statsCommand } from './commands/stats.js';
import { summaryCommand } from './commands/summary.js';
import { treeCommand } from './commands/tree.js';
import { verdictCommand } from './commands/verdict.js';

export const COMMANDS: readonly Command[] = [verdictCommand, resultsCommand, summaryCommand, statsCommand, treeCommand, flamegraphCommand, exportCommand, diffCommand, parseCommand];

export function findCommand(name: string): Command | undefined {
  return findCommandIn(COMMANDS, name);
}
