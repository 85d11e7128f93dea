// memlens's entry point as a function: main(argv, io) returns the exit code. This is the one place where
// typed errors become messages (see src/errors.ts), and where stdout and stderr become terminal-safe for
// every command: nothing a profiled program named reaches the terminal as a control (util/terminal-text.ts).

import { MemlensError, UsageError } from '../errors.js';
import { VERSION } from '../version.js';
import { parseCommandArgs, renderCommandHelp } from './args.js';
import { escapeLine, terminalSafe } from '../util/terminal-text.js';
import type { Io } from './io.js';
import { COMMANDS, findCommand } from './registry.js';

export async function main(argv: readonly string[], rawIo: Io): Promise<number> {
  // Through descriptors, not a spread: processIo's stdin, stdout and stderr are made on first use, and stay so.
  let stdout: Io['stdout'] | undefined;
  let stderr: Io['stderr'] | undefined;
  const io: Io = Object.defineProperties(
    {},
    {
      ...Object.getOwnPropertyDescriptors(rawIo),
      stdout: { get: () => (stdout ??= terminalSafe(rawIo.stdout)), enumerable: true },
      stderr: { get: () => (stderr ??= terminalSafe(rawIo.stderr)), enumerable: true },
    },
  ) as Io;
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined;
    const command = topic !== undefined ? findCommand(topic) : undefined;
    io.stdout.write(command !== undefined ? renderCommandHelp(command) : renderMainHelp());
    return first === undefined ? 2 : 0;
  }
  if (first === '-V' || first === '--version') {
    io.stdout.write(`memlens ${VERSION}\n`);
    return 0;
  }
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  try {
    const command = findCommand(first);
    if (command === undefined) {
      throw new UsageError(`unknown command '${escapeLine(first)}'`, { hint: "Run 'memlens --help' for the list of commands." });
    }
    const { options, positionals } = parseCommandArgs(command, rest);
    if (options['help'] === true) {
      io.stdout.write(renderCommandHelp(command));
      return 0;
    }
    return await command.run({ io, verbose: options['verbose'] === true }, options, positionals);
  } catch (e) {
    return reportError(e, io, verbose);
  }
}

/** An error as one line (and a hint line): a message may hold a file name or a value with a line feed in it. */
export function reportError(e: unknown, io: Io, verbose: boolean): number {
  if (e instanceof MemlensError) {
    io.stderr.write(`memlens: error: ${escapeLine(e.message)}\n`);
    if (e.hint !== undefined) io.stderr.write(`  hint: ${escapeLine(e.hint)}\n`);
    if (verbose) {
      if (e.cause !== undefined) io.stderr.write(`  cause: ${describeCause(e.cause)}\n`);
      io.stderr.write(`${e.stack ?? ''}\n`);
    }
    return e.exitCode;
  }
  // Not one of ours: a bug. Show everything so it can be reported.
  io.stderr.write(`memlens: internal error (please report it): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return 70; // EX_SOFTWARE
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? (cause.stack ?? cause.message) : String(cause);
}

function renderMainHelp(): string {
  const width = Math.max(...COMMANDS.filter((c) => c.hidden !== true).map((c) => c.name.length)) + 4;
  const lines = [
    `memlens ${VERSION}: memory profiler and OOM investigator for Python programs`,
    '',
    'Usage: memlens COMMAND [options] [arguments]',
    '',
    'Commands:',
    ...COMMANDS.filter((c) => c.hidden !== true).map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Options:',
    '  -h, --help       Show help (also: memlens COMMAND --help)',
    '  -V, --version    Show the version',
    '',
    "Run 'memlens COMMAND --help' for a command's options.",
  ];
  return lines.join('\n') + '\n';
}
