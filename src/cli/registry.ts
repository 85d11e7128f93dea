// Every subcommand, in the order `memlens --help` lists them. Heavy commands load their modules lazily
// inside run(), so `memlens --help` stays fast. The reports' bundle has its own, of the reports alone
// (report-registry.ts): scripts/cli-bundle.mjs puts it in this one's place there.

import { findCommandIn, type Command } from './command.js';
import { attachCommand } from './commands/attach.js';
import { censusCommand } from './commands/census.js';
import { collectCommand } from './commands/collect.js';
import { detachCommand } from './commands/detach.js';
import { diffCommand } from './commands/diff.js';
import { exportCommand } from './commands/export.js';
import { flamegraphCommand } from './commands/flamegraph.js';
import { liveCommand } from './commands/live.js';
import { parseCommand } from './commands/parse.js';
import { resultsCommand } from './commands/results.js';
import { runCommand } from './commands/run.js';
import { statsCommand } from './commands/stats.js';
import { summaryCommand } from './commands/summary.js';
import { treeCommand } from './commands/tree.js';
import { verdictCommand } from './commands/verdict.js';

export const COMMANDS: readonly Command[] = [
  runCommand,
  attachCommand,
  detachCommand,
  verdictCommand,
  resultsCommand,
  censusCommand,
  liveCommand,
  summaryCommand,
  statsCommand,
  treeCommand,
  flamegraphCommand,
  exportCommand,
  diffCommand,
  parseCommand,
  collectCommand,
];

export function findCommand(name: string): Command | undefined {
  return findCommandIn(COMMANDS, name);
}
