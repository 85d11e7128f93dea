// The body of `memlens export`, loaded lazily by its command.

import { gzipSync } from 'node:zlib';
import { allAllocations } from '../../analysis/allocation-set.js';
import { leaks } from '../../analysis/leaks.js';
import { stacksOf } from '../../analysis/stacks.js';
import { FileError, MissingDataError, UsageError } from '../../errors.js';
import { explainEmpty } from '../../report/describe.js';
import { pprofProfile } from '../../report/export/pprof.js';
import { csvRows, foldedStacks, gprof2dotJson, speedscopeProfile } from '../../report/export/text-exports.js';
import { VERSION } from '../../version.js';
import type { CommandContext, OptionValues } from '../command.js';
import { loadModel } from '../load-model.js';
import { type SetSelection, buildOptionsOf, frameFilterOf } from '../report-options.js';
import { selectSet } from '../select-set.js';
import { escapeLine } from '../../util/terminal-text.js';

/** What memlens export writes (commands/export.ts lists them for --help). */
export type ExportFormat = 'pprof' | 'speedscope' | 'folded' | 'csv' | 'gprof2dot';

export interface ExportRun {
  readonly format: ExportFormat;
  readonly output: string | undefined;
  readonly force: boolean;
  readonly sel: SetSelection;
  readonly options: OptionValues;
}

const SUFFIX: Record<ExportFormat, string> = {
  pprof: '.pb.gz',
  speedscope: '.speedscope.json',
  folded: '.folded',
  csv: '.csv',
  gprof2dot: '.gprof2dot.json',
};

export async function runExport(ctx: CommandContext, path: string, run: ExportRun): Promise<number> {
  const io = ctx.io;
  const model = await loadModel(io, path, buildOptionsOf(run.sel));
  const set = selectSet(model, run.sel);
  if (set.sites.length === 0 && run.format !== 'pprof') {
    throw new MissingDataError(`${path}: nothing to export: ${explainEmpty(model, set)}`);
  }
  const filter = frameFilterOf(run.options);
  const stacks = stacksOf(model, set, { filter });
  let bytes: Uint8Array | string;
  switch (run.format) {
    case 'pprof': {
      const allocated = stacksOf(model, allAllocations(model), { filter });
      if (allocated.length === 0) throw new MissingDataError(`${path}: nothing to export: ${explainEmpty(model, set)}`);
      const inuse = run.sel.kind === 'leaks' ? stacksOf(model, leaks(model), { filter }) : stacks;
      bytes = gzipSync(pprofProfile({ model, allocated, inuse, inuseKind: set.kind }));
      break;
    }
    case 'speedscope':
      bytes = JSON.stringify(speedscopeProfile(model, stacks, `memlens@${VERSION}`)) + '\n';
      break;
    case 'folded':
      bytes = foldedStacks(model, stacks);
      break;
    case 'csv':
      bytes = csvRows(model, set.sites, filter);
      break;
    case 'gprof2dot':
      bytes = JSON.stringify(gprof2dotJson(model, stacks)) + '\n';
      break;
  }
  const out = run.output ?? defaultOutput(path, run.format);
  if (out === '-') {
    // To a pipe or a file the export is data, byte for byte; to a terminal it is something to read, so
    // it goes through the terminal-safe output as text (names from the program cannot drive the terminal).
    if (io.stdout.isTTY !== true) io.stdout.write(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes);
    else if (typeof bytes === 'string') io.stdout.write(bytes);
    else throw new UsageError('pprof profiles are binary: they do not go to a terminal', { hint: 'Give -o FILE, or send it to a pipe or a file (-o - > profile.pb.gz).' });
    return 0;
  }
  const { writeOutputFile } = await import('../output-file.js');
  writeOutputFile(out, bytes, { force: run.force, exists: (p) => new FileError(`${escapeLine(p)} exists already`, { hint: 'Give --force to overwrite it, or -o another name.' }) });
  const shown = escapeLine(out);
  io.stderr.write(
    `memlens: wrote ${shown}${run.format === 'gprof2dot' ? ` (render it with: gprof2dot -f json ${shown} | dot -Tpng -o ${shown}.png)` : run.format === 'pprof' ? ` (open it with: go tool pprof -http=: ${shown})` : ''}\n`,
  );
  return 0;
}

function defaultOutput(path: string, format: ExportFormat): string {
  const stem = path.endsWith('.mlens') ? path.slice(0, -'.mlens'.length) : path;
  return stem + SUFFIX[format];
}
