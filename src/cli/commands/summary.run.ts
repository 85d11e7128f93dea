// The body of `memlens summary`, loaded lazily by its command.

import { captureCensus } from '../../analysis/capture-census.js';
import { findings } from '../../analysis/findings/index.js';
import { ForensicsObserver } from '../../analysis/forensics.js';
import { locations } from '../../analysis/locations.js';
import { stacksOf } from '../../analysis/stacks.js';
import { leaksAllocatorNote } from '../../report/describe.js';
import { ansiPaint, noPaint } from '../../util/paint.js';
import { type SummarySort, renderSummary, selectSummaryRows, summaryJson } from '../../report/summary.js';
import type { CommandContext, OptionValues } from '../command.js';
import { terminalColumns, wantsColor } from '../io.js';
import { loadModel } from '../load-model.js';
import { type SetSelection, buildOptionsOf, frameFilterOf, hiddenFramesNote } from '../report-options.js';
import { selectSet } from '../select-set.js';

export interface SummaryRun {
  readonly sel: SetSelection;
  readonly sort: SummarySort;
  readonly threshold: number;
  /** 0: the default. */
  readonly maxRows: number;
  readonly json: boolean;
  readonly options: OptionValues;
}

export const DEFAULT_SUMMARY_ROWS = 25;

export async function runSummary(ctx: CommandContext, path: string, run: SummaryRun): Promise<number> {
  const io = ctx.io;
  const observer = new ForensicsObserver({ noRecentGrowth: true });
  const model = await loadModel(io, path, { ...buildOptionsOf(run.sel), observer });
  const set = selectSet(model, run.sel);
  const filter = frameFilterOf(run.options);
  const census = captureCensus(model);
  const found = findings(model, observer.finish(), { filter, census: census.census ?? null });
  const rows = locations(model, stacksOf(model, set, { filter }));
  const data = selectSummaryRows(set, rows, { sort: run.sort, maxRows: run.maxRows > 0 ? run.maxRows : run.json ? Infinity : DEFAULT_SUMMARY_ROWS, threshold: run.threshold });
  if (run.json) {
    io.stdout.write(JSON.stringify(summaryJson(model, data, found, census.census, leaksAllocatorNote(model, set)), null, 2) + '\n');
    return 0;
  }
  io.stdout.write(
    renderSummary(model, data, {
      sort: run.sort,
      maxRows: data.shown.length,
      threshold: run.threshold,
      width: terminalColumns(io),
      paint: wantsColor(io) ? ansiPaint : noPaint,
      hiddenNote: hiddenFramesNote(model, filter),
      leaksNote: leaksAllocatorNote(model, set),
      findings: found,
      census: census.census,
    }),
  );
  return 0;
}
