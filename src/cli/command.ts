// The shape every subcommand has: one file per command in src/cli/commands/ (<name>.ts, listed in
// registry.ts), with the bodies it loads lazily when it runs beside it (<name>.<part>.ts: src/README.md).

import type { Io } from './io.js';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  /** Shown in --help. */
  readonly description: string;
  /** Placeholder for a string option's value in --help, for example FILE. */
  readonly value?: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** Parsed option values: strings, booleans, or string lists for `multiple` options. */
export type OptionValues = Readonly<Record<string, string | boolean | readonly string[] | undefined>>;

export interface CommandContext {
  readonly io: Io;
  /** --verbose was given: errors show their cause and stack. */
  readonly verbose: boolean;
}

export interface Command {
  readonly name: string;
  /** Other names that reach this command (`transform` for `export`). */
  readonly aliases?: readonly string[];
  /** Internal commands (started by memlens itself) are left out of `memlens --help`. */
  readonly hidden?: boolean;
  /** One line for `memlens --help`. */
  readonly summary: string;
  /** The argument part of the usage line, for example `FILE`. */
  readonly usage: string;
  /** Paragraphs shown after the usage line in `memlens COMMAND --help`. */
  readonly description?: string;
  readonly options: OptionSpecs;
  /** Stop option parsing at the first positional (for `run script.py --its-own-options`). */
  readonly stopAtFirstPositional?: boolean;
  /**
   * String options whose value ends option parsing (with stopAtFirstPositional): `run -m module --its-own`
   * as python3 -m does. The option and its value stay options; everything after is positional.
   */
  readonly terminalOptions?: readonly string[];
  run(ctx: CommandContext, options: OptionValues, positionals: readonly string[]): Promise<number>;
}

/** The command of `commands` that `name` names, by its name or one of its aliases. */
export function findCommandIn(commands: readonly Command[], name: string): Command | undefined {
  return commands.find((c) => c.name === name || (c.aliases ?? []).includes(name));
}

export function stringOption(options: OptionValues, name: string): string | undefined {
  const v = options[name];
  return typeof v === 'string' ? v : undefined;
}

export function booleanOption(options: OptionValues, name: string): boolean {
  return options[name] === true;
}
