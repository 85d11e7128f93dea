// memlens stats FILE: totals, peak, duration, allocation sizes, allocators, top locations and modules.

import { booleanOption, type Command } from '../command.js';
import { FRAME_OPTIONS, countOption, frameFilterOf, onePath } from '../report-options.js';

export const statsCommand: Command = {
  name: 'stats',
  summary: 'Statistics of a capture: totals, peak, allocation sizes, allocators, top locations and modules',
  usage: 'FILE',
  description: 'Works on aggregated captures too (all but the allocation-size histogram, which they do not keep).',
  options: {
    ...FRAME_OPTIONS,
    num: { type: 'string', short: 'n', value: 'N', description: 'How many top locations and modules (default 5)' },
    json: { type: 'boolean', description: 'Print JSON (memray stats --json key names where they match)' },
  },
  async run(ctx, options, positionals) {
    const path = onePath('stats', positionals);
    const top = countOption('stats', options, 'num', 5);
    const filter = frameFilterOf(options);
    const [{ loadModel }, { statistics }, { renderStats, statsJson }, { ansiPaint, noPaint }, { terminalColumns, wantsColor }] = await Promise.all([
      import('../load-model.js'),
      import('../../analysis/statistics.js'),
      import('../../report/stats.js'),
      import('../../report/format.js'),
      import('../io.js'),
    ]);
    const model = await loadModel(ctx.io, path);
    const stats = statistics(model, { top, filter });
    if (booleanOption(options, 'json')) {
      ctx.io.stdout.write(JSON.stringify(statsJson(model, stats), null, 2) + '\n');
    } else {
      ctx.io.stdout.write(renderStats(model, stats, { width: terminalColumns(ctx.io), paint: wantsColor(ctx.io) ? ansiPaint : noPaint }));
    }
    return 0;
  },
};
