// memlens parse FILE [--json]: every record of a capture as one line, in file order, header first; block
// framing lines show where each block starts. A debugging dump: warnings about damage go to stderr.

import { UsageError } from '../../errors.js';
import { booleanOption, type Command } from '../command.js';

export const parseCommand: Command = {
  name: 'parse',
  summary: 'Print every record of a capture file, one per line (a debugging dump)',
  usage: 'FILE',
  description:
    'Lines come in file order: the header, then for each block a "block" line and its records. ' +
    'Warnings about damaged or truncated data go to stderr; the exit status is 0 when the header could be read.',
  options: {
    json: { type: 'boolean', description: 'Print JSON lines instead of text' },
  },
  async run(ctx, options, positionals) {
    if (positionals.length !== 1) {
      throw new UsageError(positionals.length === 0 ? 'parse: missing capture FILE' : `parse: expected one FILE, got ${positionals.length}`, {
        hint: "Run 'memlens parse --help' for usage.",
      });
    }
    const { parseDump } = await import('./parse.run.js');
    await parseDump(ctx.io, positionals[0] as string, booleanOption(options, 'json'));
    return 0;
  },
};
