// The file edges of `memlens flamegraph`: reading the capture (in seq order, with the temporal observer),
// reading source lines, and writing the page without clobbering what the user did not ask to replace.

import { readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, resolve } from 'node:path';
import { ForensicsObserver } from '../../analysis/forensics.js';
import { highWaterMark } from '../../analysis/high-water-mark.js';
import { combineObservers } from '../../analysis/observers.js';
import { verdict } from '../../analysis/verdict.js';
import { leaks } from '../../analysis/leaks.js';
import { LeakTimeline } from '../../analysis/leak-timeline.js';
import { PeakTimeline } from '../../analysis/peak-timeline.js';
import { temporaryAllocations } from '../../analysis/temporary.js';
import type { AllocationSet } from '../../analysis/allocation-set.js';
import { FileError } from '../../errors.js';
import { loadViewerAssets } from '../../report/html/assets.js';
import { renderPage } from '../../report/html/page.js';
import type { ReportView } from '../../report/html/payload.js';
import { buildReportData } from '../../report/html/report-data.js';
import { verdictPanel } from '../../report/verdict.js';
import { VERSION } from '../../version.js';
import type { Io } from '../io.js';
import { loadModel } from '../load-model.js';
import { formatBytes } from '../../util/units.js';
import { escapeLine } from '../../util/terminal-text.js';
import { GROWTH_CHECK_UP_TO, collectNow } from '../../util/outgrown.js';
import { getHeapStatistics } from 'node:v8';

export interface FlamegraphRequest {
  readonly capture: string;
  readonly output: string | undefined;
  readonly force: boolean;
  readonly view: ReportView;
  readonly threshold: number | undefined;
  readonly inverted: boolean;
  readonly source: boolean;
  readonly temporal: boolean;
}

/** memlens-flamegraph-NAME.html in the current directory, NAME the capture's name without .mlens. */
export function defaultOutput(capture: string, cwd: string): string {
  const name = basename(capture)
    .replace(/\.mlens$/, '')
    .replace(/^memlens-/, '');
  return resolve(cwd, `memlens-flamegraph-${name}.html`);
}

const MAX_SOURCE_FILE = 8 << 20;
const MAX_SOURCE_TOTAL = 8 << 20;
const MAX_LINE = 300;

export interface SourceReader {
  /**
   * Says `read(file, line)` will be asked, before the reads: a file is read once, and of it only the lines
   * wanted by then are kept (a line asked but not wanted reads its file again). Keeping every line of every
   * file was most of the flame graph's peak on numpy_mix (109 files, 2.9 MB of text held as split lines).
   */
  want: (file: string, line: number) => void;
  /** The text of a line (1-based), cut to MAX_LINE; null for a file that is missing, special or huge. */
  read: (file: string, line: number) => string | null;
  /** Lines left out past MAX_SOURCE_TOTAL. */
  skipped: () => number;
}

/**
 * Lines (1-based) of a file, as `readFileSync(path, 'utf8').split('\n')[line - 1]` gives them (null past
 * its end), each decoded alone from the file's bytes: '\n' is never part of a UTF-8 sequence, so a line
 * decodes the same alone or in the whole. null: missing, not a file, or over MAX_SOURCE_FILE.
 */
export function readSourceLines(path: string, lines: readonly number[]): Map<number, string | null> | null {
  let buf: Buffer;
  try {
    const st = statSync(path);
    if (!st.isFile() || st.size > MAX_SOURCE_FILE) return null;
    buf = readFileSync(path);
  } catch {
    // Not readable here (another machine, a deleted temp file): the page shows no source for it.
    return null;
  }
  const out = new Map<number, string | null>();
  const sorted = [...new Set(lines)].sort((a, b) => a - b);
  let at = 1; // the line that starts at `start`
  let start = 0; // −1: past the file's last line
  for (const k of sorted) {
    if (!Number.isInteger(k) || k < 1) {
      out.set(k, null);
      continue;
    }
    while (start >= 0 && at < k) {
      const nl = buf.indexOf(10, start);
      start = nl < 0 ? -1 : nl + 1;
      at++;
    }
    if (start < 0) {
      out.set(k, null);
      continue;
    }
    const nl = buf.indexOf(10, start);
    out.set(k, buf.toString('utf8', start, nl < 0 ? buf.length : nl));
  }
  return out;
}

/** Reads the source lines a page shows, each file once (see SourceReader). */
export function sourceReader(cwd: string): SourceReader {
  // Lines wanted of the files not read yet; the lines kept of those read (null: not readable).
  const wanted = new Map<string, number[]>();
  const files = new Map<string, Map<number, string | null> | null>();
  let total = 0;
  let skipped = 0;
  // A frame's file → its path, resolved once a file rather than at every want() and read() of a line.
  const paths = new Map<string, string | null>();
  const pathOf = (file: string): string | null => {
    let path = paths.get(file);
    if (path === undefined) {
      path = file === '' || file.startsWith('<') ? null : isAbsolute(file) ? file : resolve(cwd, file);
      paths.set(file, path);
    }
    return path;
  };
  const want = (file: string, line: number): void => {
    const path = pathOf(file);
    if (path === null || files.has(path)) return;
    let lines = wanted.get(path);
    if (lines === undefined) {
      lines = [];
      wanted.set(path, lines);
    }
    lines.push(line);
  };
  const read = (file: string, line: number): string | null => {
    const path = pathOf(file);
    if (path === null) return null;
    let lines = files.get(path);
    if (lines === undefined || (lines !== null && !lines.has(line))) {
      const ask = wanted.get(path) ?? [];
      wanted.delete(path);
      ask.push(line);
      const got = readSourceLines(path, ask);
      if (lines === undefined) lines = got;
      else if (got !== null) for (const [k, v] of got) lines.set(k, v);
      files.set(path, lines);
    }
    const text = lines?.get(line);
    if (text === undefined || text === null) return null;
    if (total + text.length > MAX_SOURCE_TOTAL) {
      skipped++;
      return null;
    }
    total += Math.min(text.length, MAX_LINE);
    return text.length > MAX_LINE ? `${text.slice(0, MAX_LINE)}…` : text;
  };
  return { want, read, skipped: () => skipped };
}

/**
 * A full collection when V8's heap is small (as heapGrowthCheck's GROWTH_CHECK_UP_TO, util/outgrown.ts): there
 * the garbage of a step is a large share of what is resident. On call_sites (a heap of hundreds of MiB) the
 * two collections left the peak 5-7 MiB higher, not lower (docs/benchmarks.md, round twenty-two).
 */
function collectSmallHeap(): void {
  if (getHeapStatistics().used_heap_size <= GROWTH_CHECK_UP_TO) collectNow();
}

export async function writeFlamegraph(io: Io, r: FlamegraphRequest): Promise<number> {
  const out = r.output !== undefined ? resolve(io.cwd, r.output) : defaultOutput(r.capture, io.cwd);
  // Refuse early, before minutes of reading, when the output exists or cannot be replaced.
  const { checkOutputFile, writeOutputFile } = await import('../output-file.js');
  const outputOptions = { force: r.force, exists: (p: string) => new FileError(`${p} exists`, { hint: 'Pass -f to overwrite it, or -o to write elsewhere.' }) };
  checkOutputFile(out, outputOptions);
  const timeline = !r.temporal ? undefined : r.view === 'peak' ? new PeakTimeline() : r.view === 'leaks' ? new LeakTimeline() : undefined;
  // The verdict panel at the top of the page and the GC markers need the forensic facts of the same replay.
  const forensics = new ForensicsObserver();
  const model = await loadModel(io, resolve(io.cwd, r.capture), { observer: combineObservers(timeline, forensics), temporaryThreshold: r.threshold });
  const facts = forensics.finish();
  const v = verdict(model, facts);
  // What the verdict made (the stacks of its findings, the collector's frees) is garbage: collected before the
  // page's data is built beside it (docs/benchmarks.md, round twenty-two).
  collectSmallHeap();
  let set: AllocationSet;
  let peakTimeNs: number | null = null;
  if (r.view === 'leaks') set = leaks(model);
  else if (r.view === 'temporary') set = temporaryAllocations(model);
  else if (model.allocations === 0 && !model.aggregated) set = { kind: 'peak', totalBytes: 0, totalCount: 0, sites: [] };
  else {
    const hwm = highWaterMark(model);
    set = hwm;
    peakTimeNs = hwm.timeNs ?? null;
  }
  const usable = timeline !== undefined && !model.aggregated && model.snapshots.seq.length > 0 && model.allocations > 0;
  const sources = r.source ? sourceReader(model.header.cwd !== '' ? model.header.cwd : io.cwd) : null;
  const { data, reductions } = buildReportData(model, {
    view: r.view,
    set,
    inverted: r.inverted,
    captureFile: r.capture,
    memlensVersion: VERSION,
    sourceLine: sources?.read ?? null,
    wantSourceLine: sources?.want,
    temporal: usable ? timeline.finish(model.durationNs) : null,
    peakTimeNs,
    verdict: verdictPanel(model, v),
    gc: v.gc,
    ...(r.threshold !== undefined ? { threshold: r.threshold } : {}),
  });
  // The builder's tables and the source lines are garbage once the data is built: collected before the page
  // is encoded beside them.
  collectSmallHeap();
  const skipped = sources?.skipped() ?? 0;
  const allReductions = skipped > 0 ? [...reductions, `source lines: ${skipped} left out past ${formatBytes(MAX_SOURCE_TOTAL)} of source text`] : reductions;
  const page = renderPage({ ...data, meta: { ...data.meta, reductions: allReductions } }, loadViewerAssets());
  for (const line of allReductions) io.stderr.write(`memlens: note: reduced to fit the report: ${escapeLine(line)}\n`);
  writeOutputFile(out, page.html, outputOptions);
  if (data.meta.emptyReason !== null) io.stderr.write(`memlens: nothing to draw: ${data.meta.emptyReason}\n`);
  io.stderr.write(`memlens: wrote ${escapeLine(out)} (${formatBytes(Buffer.byteLength(page.html))}); open it in a browser\n`);
  return 0;
}
