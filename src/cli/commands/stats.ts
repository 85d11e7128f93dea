// memlens stats FILE: totals, peak, duration, allocation sizes, allocators, top locations and modules.

import { booleanOption, type Command } from '../command.js';
import { FRAME_OPTIONS, countOption, frameFilterOf, onePath } from '../report-options.js';
import { jsonDocument } from '../../util/json-document.js';

export const statsCommand: Command = {
  name: 'stats',
  summary: 'Statistics of a capture: totals, peak, allocation sizes, allocators, top locations and modules, the garbage collector',
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
    const [{ loadModel }, { statistics }, { GcFrees }, { gcReport }, { renderStats, statsJson }, { ansiPaint, noPaint }, { terminalColumns, wantsColor }] = await Promise.all([
      import('../load-model.js'),
      import('../../analysis/statistics.js'),
      import('../../analysis/gc-frees.js'),
      import('../../analysis/gc.js'),
      import('../../report/stats.js'),
      import('../../util/paint.js'),
      import('../io.js'),
    ]);
    // The memory each collection freed needs the frees as they happen: an observer of the replay.
    const frees = new GcFrees();
    const model = await loadModel(ctx.io, path, { observer: frees });
    const stats = statistics(model, { top, filter });
    const gc = gcReport(model, frees.finish(), filter);
    if (booleanOption(options, 'json')) {
      ctx.io.stdout.write(JSON.stringify(jsonDocument('stats', statsJson(model, stats, gc)), null, 2) + '\n');
    } else {
      ctx.io.stdout.write(renderStats(model, stats, { width: terminalColumns(ctx.io), paint: wantsColor(ctx.io) ? ansiPaint : noPaint, gc }));
    }
    return 0;
  },
};
