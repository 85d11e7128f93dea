// memlens verdict FILE: why did it die? How the process ended, its peak against the limit, what grew
// before the end, the RSS the heap does not explain, the collector, threads, and findings.

import { UsageError } from '../../errors.js';
import { booleanOption, type Command, stringOption } from '../command.js';
import { FRAME_OPTIONS, countOption, frameFilterOf, onePath } from '../report-options.js';
import { jsonDocument } from '../../util/json-document.js';

export const verdictCommand: Command = {
  name: 'verdict',
  summary: 'Why did it die? The OOM post-mortem of a capture, with findings and what to do',
  usage: 'FILE',
  description:
    "How the process ended (exit status, signal, OOM kill and the kernel's line), its peak against the memory limit, " +
    'the last snapshot and the near-OOM marker, what grew in the last seconds and since the start, the RSS the tracked ' +
    'heap does not explain, the garbage collector, threads, and findings tied to what to do. Works on captures cut off ' +
    'by a kill and on aggregated captures.',
  options: {
    ...FRAME_OPTIONS,
    last: { type: 'string', value: 'SECONDS', description: 'What grew in this many seconds before the end, or before the last allocation when the program stalled before a kill (default 5)' },
    num: { type: 'string', short: 'n', value: 'N', description: 'Rows per table of growth (default 5)' },
    json: { type: 'boolean', description: 'Print JSON' },
  },
  async run(ctx, options, positionals) {
    const path = onePath('verdict', positionals);
    const lastText = stringOption(options, 'last');
    let lastNs: number | undefined;
    if (lastText !== undefined) {
      const v = Number(lastText.replace(/s$/, ''));
      if (lastText.trim() === '' || !Number.isFinite(v) || v <= 0) throw new UsageError(`verdict: --last wants a number of seconds above 0 (like 5 or 0.5), not '${lastText}'`);
      lastNs = Math.round(v * 1e9);
    }
    const rows = countOption('verdict', options, 'num', 5);
    const filter = frameFilterOf(options);
    const [{ loadModel }, { ForensicsObserver }, { verdict }, { renderVerdict, verdictJson }, { ansiPaint, noPaint }, { terminalColumns, wantsColor }] = await Promise.all([
      import('../load-model.js'),
      import('../../analysis/forensics.js'),
      import('../../analysis/verdict.js'),
      import('../../report/verdict.js'),
      import('../../util/paint.js'),
      import('../io.js'),
    ]);
    const observer = new ForensicsObserver({ lastNs });
    const model = await loadModel(ctx.io, path, { observer });
    const v = verdict(model, observer.finish(), { filter, rows });
    if (booleanOption(options, 'json')) ctx.io.stdout.write(JSON.stringify(jsonDocument('verdict', verdictJson(model, v)), null, 2) + '\n');
    else ctx.io.stdout.write(renderVerdict(model, v, { width: terminalColumns(ctx.io), paint: wantsColor(ctx.io) ? ansiPaint : noPaint, file: path }));
    return 0;
  },
};
