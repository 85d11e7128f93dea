// Every subcommand, in the order `memlens --help` lists them. Heavy commands load their modules lazily
// inside run(), so `memlens --help` stays fast.

import type { Command } from './command.js';
import { flamegraphCommand } from './commands/flamegraph.js';
import { parseCommand } from './commands/parse.js';

export const COMMANDS: readonly Command[] = [flamegraphCommand, parseCommand];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name || (c.aliases ?? []).includes(name));
}
