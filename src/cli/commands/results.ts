// memlens results FILE: the peak, the leaks with their largest stacks, the verdict and its findings, as one
// JSON document for programs (the Python API's memlens.load, the pytest plugin). --serve answers many
// requests in one process: one JSON line in, one JSON line out.

import { type Command, booleanOption, stringOption } from '../command.js';
import { FRAME_OPTIONS, countOption } from '../report-options.js';
import { UsageError } from '../../errors.js';

export const resultsCommand: Command = {
  name: 'results',
  summary: 'Peak, leaks, their top stacks, the verdict and findings of a capture, as JSON for programs',
  usage: 'FILE | --serve',
  description:
    'One JSON document (schema memlens.results/1, docs/json.md): the heap at its peak and what was still live at the end, ' +
    'each with its largest stacks (frames innermost first), the verdict and the findings. With --serve, reads one request ' +
    'per line on standard input ({"path": FILE, "top": N, "stacks_over": BYTES}) and writes one JSON line per request, ' +
    'until its input ends.',
  options: {
    ...FRAME_OPTIONS,
    top: { type: 'string', short: 'n', value: 'N', description: 'Stacks listed per set (default 10)' },
    'stacks-over': { type: 'string', value: 'BYTES', description: 'Also list every leak stack of at least BYTES bytes' },
    serve: { type: 'boolean', description: 'Answer requests read from standard input, one JSON line each' },
    json: { type: 'boolean', description: 'Print JSON (the only format; accepted for symmetry with the other commands)' },
  },
  async run(ctx, options, positionals) {
    const { resultsOf, serveResults } = await import('../run-results.js');
    const top = countOption('results', options, 'top', 10, true);
    const overText = stringOption(options, 'stacks-over');
    const over = overText === undefined ? undefined : Number(overText);
    if (over !== undefined && (!Number.isInteger(over) || over < 0)) {
      throw new UsageError(`results: --stacks-over wants a whole number of bytes, not '${overText ?? ''}'`);
    }
    if (booleanOption(options, 'serve')) {
      if (positionals.length > 0) throw new UsageError('results: --serve reads its requests from standard input; give no FILE');
      return serveResults(ctx, options);
    }
    if (positionals.length !== 1) {
      throw new UsageError(positionals.length === 0 ? 'results: missing capture FILE' : `results: expected one FILE, got ${positionals.length}`, {
        hint: "Run 'memlens results --help' for usage.",
      });
    }
    const doc = await resultsOf(ctx.io, positionals[0] as string, { top, over, options });
    ctx.io.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    return 0;
  },
};
