// memlens summary FILE: per function, total and own memory, their share, allocation counts.

import { UsageError } from '../../errors.js';
import { booleanOption, type Command, stringOption } from '../command.js';
import { FRAME_OPTIONS, SET_OPTIONS, countOption, onePath, parseSetOptions } from '../report-options.js';

export const summaryCommand: Command = {
  name: 'summary',
  summary: 'Functions by the memory they hold at the peak (or leak, or use temporarily)',
  usage: 'FILE',
  description: 'One row per function: memory of the stacks it is on (total), of those where it allocates (own), and the ' + 'number of allocations. By default the allocations live at the high-water mark.',
  options: {
    ...SET_OPTIONS,
    ...FRAME_OPTIONS,
    sort: { type: 'string', short: 's', value: 'COLUMN', description: 'Sort by total (default), own or count (memray numbers 1-5 work too)' },
    'max-rows': { type: 'string', short: 'r', value: 'N', description: 'Rows shown at most (default: fits the terminal, at least 10)' },
    threshold: { type: 'string', value: 'PERCENT', description: 'Hide functions below this share of the total (default 0)' },
    json: { type: 'boolean', description: 'Print JSON' },
  },
  async run(ctx, options, positionals) {
    const path = onePath('summary', positionals);
    const sel = parseSetOptions('summary', options);
    const sort = parseSort(stringOption(options, 'sort'));
    const thresholdText = stringOption(options, 'threshold');
    const threshold = thresholdText === undefined ? 0 : Number(thresholdText.replace(/%$/, '')) / 100;
    if (!Number.isFinite(threshold) || threshold < 0 || threshold > 1) {
      throw new UsageError(`summary: --threshold wants a percentage between 0 and 100, not '${thresholdText ?? ''}'`);
    }
    const { runSummary } = await import('./summary.run.js');
    return runSummary(ctx, path, {
      sel,
      sort,
      threshold,
      maxRows: countOption('summary', options, 'max-rows', 0, true),
      json: booleanOption(options, 'json'),
      options,
    });
  },
};

function parseSort(text: string | undefined): 'total' | 'own' | 'count' {
  if (text === undefined) return 'total';
  switch (text.toLowerCase()) {
    case '1':
    case '2':
    case 'total':
      return 'total';
    case '3':
    case '4':
    case 'own':
      return 'own';
    case '5':
    case 'count':
    case 'allocations':
      return 'count';
    default:
      throw new UsageError(`summary: --sort wants total, own or count, not '${text}'`);
  }
}
