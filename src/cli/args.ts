// Option parsing on top of node:util parseArgs, with the error messages and --help text memlens wants.

import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import type { Command, OptionSpecs, OptionValues } from './command.js';

export interface ParsedArgs {
  readonly options: OptionValues;
  readonly positionals: readonly string[];
}

const COMMON: OptionSpecs = {
  help: { type: 'boolean', short: 'h', description: 'Show this help' },
  verbose: { type: 'boolean', short: 'v', description: 'Show details of errors' },
};

export function commandOptionSpecs(command: Command): OptionSpecs {
  return { ...COMMON, ...command.options };
}

export function parseCommandArgs(command: Command, args: readonly string[]): ParsedArgs {
  const specs = commandOptionSpecs(command);
  let head = [...args];
  let tail: string[] = [];
  if (command.stopAtFirstPositional === true) {
    const split = firstPositionalIndex(specs, args, command.terminalOptions ?? []);
    if (split >= 0) {
      head = args.slice(0, split);
      tail = args.slice(split);
    }
  }
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    config[name] = {
      type: spec.type,
      ...(spec.short !== undefined ? { short: spec.short } : {}),
      ...(spec.multiple === true ? { multiple: true } : {}),
    };
  }
  try {
    const parsed = parseArgs({ args: head, options: config, allowPositionals: true, strict: true });
    return { options: parsed.values as OptionValues, positionals: [...parsed.positionals, ...tail] };
  } catch (e) {
    throw new UsageError(`${command.name}: ${cleanParseError(e)}`, {
      hint: `Run 'memlens ${command.name} --help' for the options.`,
    });
  }
}

/** Index of the first argument that is not an option or an option's value; -1 if none. */
function firstPositionalIndex(specs: OptionSpecs, args: readonly string[], terminal: readonly string[]): number {
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) if (spec.short !== undefined) byShort.set(spec.short, name);
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--') return i + 1 < args.length ? i : -1;
    if (!a.startsWith('-') || a === '-') return i;
    let name: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq >= 0) {
        if (terminal.includes(a.slice(2, eq))) return i + 1 < args.length ? i + 1 : -1;
        continue;
      }
      name = a.slice(2);
    } else if (a.length === 2) {
      name = byShort.get(a.slice(1));
    } else {
      const short = byShort.get(a.slice(1, 2));
      if (short !== undefined && terminal.includes(short)) return i + 1 < args.length ? i + 1 : -1;
      continue; // -xVALUE or grouped flags
    }
    if (name !== undefined && specs[name]?.type === 'string') {
      i++;
      if (terminal.includes(name)) return i + 1 < args.length ? i + 1 : -1;
    }
  }
  return -1;
}

function cleanParseError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  // parseArgs messages end with advice about '--' that does not apply to us; keep the first sentence.
  const first = msg.split(/\. (?=[A-Z])/)[0] ?? msg;
  return first.replace(/^Unknown option '(.*?)'.*$/, "unknown option '$1'").replace(/\.$/, '');
}

export function renderCommandHelp(command: Command): string {
  const lines = [`Usage: memlens ${command.name} [options] ${command.usage}`.trimEnd(), '', command.summary];
  if (command.description !== undefined) lines.push('', command.description);
  lines.push('', 'Options:');
  const rows: [string, string][] = [];
  for (const [name, spec] of Object.entries(commandOptionSpecs(command))) {
    const short = spec.short !== undefined ? `-${spec.short}, ` : '    ';
    const value = spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : '';
    rows.push([`  ${short}--${name}${value}`, spec.description]);
  }
  const width = Math.min(34, Math.max(...rows.map(([l]) => l.length)) + 2);
  for (const [left, right] of rows) {
    lines.push(left.length >= width ? `${left}\n${' '.repeat(width)}${right}` : left.padEnd(width) + right);
  }
  return lines.join('\n') + '\n';
}
