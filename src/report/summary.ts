// `memlens summary`: one row per function with its total and own memory, their share, and its
// allocation count, as memray's summary table. Plain data in, text or JSON out.

import type { AllocationSet } from '../analysis/allocation-set.js';
import type { CaptureCensus } from '../analysis/capture-census.js';
import type { Finding } from '../analysis/findings/index.js';
import { type LineRow, type LocationRow, NO_STACK } from '../analysis/locations.js';
import type { CaptureModel } from '../model/model.js';
import { captureNotes, describeCapture, describeSet, endingJson, explainEmpty } from './describe.js';
import { describeEnding, endingOf } from '../analysis/ending.js';
import { captureCensusWhen, pathGroupsJson, pathSearchJson, pathSearchNote } from './census.js';
import { type Paint, noPaint, shareColour } from '../util/paint.js';
import { displayPath, truncateLocation, wrapText } from '../util/text.js';
import { formatBytes, formatCount, formatPercent } from '../util/units.js';
import { findingJson, renderFindings } from './findings.js';
import { type Column, renderTable } from './text-table.js';
import { jsonDocument } from '../util/json-document.js';
import { escapeLine } from '../util/terminal-text.js';

export type SummarySort = 'total' | 'own' | 'count';

export interface SummaryOptions {
  readonly sort: SummarySort;
  /** Rows shown at most (the rest are counted in a last line). */
  readonly maxRows: number;
  /** Hide rows whose total is below this share of the set (0–1). */
  readonly threshold: number;
  readonly width: number;
  readonly paint?: Paint;
  /** A line naming hidden frames and the flags that show them. */
  readonly hiddenNote?: string | undefined;
  /** Findings to list briefly after the table (memlens verdict shows their evidence in full). */
  readonly findings?: readonly Finding[] | undefined;
  /** The capture's census: its top types follow the table, beside the allocation sites. */
  readonly census?: CaptureCensus | undefined;
  /** The --leaks warning about pymalloc's arenas (describe.ts leaksAllocatorNote). */
  readonly leaksNote?: string | undefined;
}

/** Types of the census the summary names. */
const CENSUS_TYPES = 5;

export interface SummaryData {
  readonly set: AllocationSet;
  readonly rows: readonly LocationRow[];
  readonly shown: readonly LocationRow[];
  readonly omitted: number;
}

export function selectSummaryRows(set: AllocationSet, rows: readonly LocationRow[], options: Pick<SummaryOptions, 'sort' | 'maxRows' | 'threshold'>): SummaryData {
  const key = (r: LocationRow): number => (options.sort === 'own' ? r.ownBytes : options.sort === 'count' ? r.count : r.totalBytes);
  const sorted = [...rows].sort((a, b) => key(b) - key(a) || b.totalBytes - a.totalBytes || (a.function < b.function ? -1 : a.function > b.function ? 1 : 0));
  const visible = sorted.filter((r) => set.totalBytes === 0 || r.totalBytes >= options.threshold * set.totalBytes);
  const shown = visible.slice(0, Math.max(0, options.maxRows));
  return { set, rows: sorted, shown, omitted: sorted.length - shown.length };
}

export function locationText(r: Pick<LocationRow, 'function' | 'file' | 'line'>, cwd: string): string {
  if (r.function === NO_STACK) return NO_STACK;
  const fn = escapeLine(r.function);
  const file = escapeLine(displayPath(r.file, cwd));
  if (file === '') return fn;
  return r.line > 0 ? `${fn} at ${file}:${r.line}` : `${fn} at ${file}`;
}

/** A line of the program with the library frame that allocated below it: `load at job.py:7 (in ones, numeric.py:233)`. */
export function ownLineText(r: LineRow, cwd: string): string {
  const own = locationText(r, cwd);
  if (r.via === undefined) return own;
  const file = escapeLine(displayPath(r.via.file, cwd));
  const base = file.slice(file.lastIndexOf('/') + 1);
  const fn = escapeLine(r.via.function);
  return `${own} (in ${base === '' ? fn : `${fn}, ${base}${r.via.line > 0 ? `:${r.via.line}` : ''}`})`;
}

export function renderSummary(model: CaptureModel, data: SummaryData, options: SummaryOptions): string {
  const paint = options.paint ?? noPaint;
  const out: string[] = [];
  out.push(paint('bold', describeCapture(model)));
  out.push(describeSet(model, data.set));
  if (data.shown.length === 0) {
    out.push('', data.rows.length === 0 ? explainEmpty(model, data.set) : `No location holds at least ${formatPercent(options.threshold, 1)} of it (--threshold).`);
  } else {
    out.push('');
    const sortTitle = (title: string, sort: SummarySort): string => (options.sort === sort ? `<${title}>` : title);
    const columns: Column[] = [
      { title: 'Location', align: 'left', flex: true, truncate: truncateLocation },
      { title: sortTitle('Total Memory', 'total'), align: 'right' },
      { title: 'Total %', align: 'right' },
      { title: sortTitle('Own Memory', 'own'), align: 'right' },
      { title: 'Own %', align: 'right' },
      { title: sortTitle('Allocations', 'count'), align: 'right' },
    ];
    const whole = data.set.totalBytes;
    const rows = data.shown.map((r) => [
      locationText(r, model.header.cwd),
      formatBytes(r.totalBytes),
      formatPercent(r.totalBytes, whole),
      formatBytes(r.ownBytes),
      formatPercent(r.ownBytes, whole),
      formatCount(r.count),
    ]);
    out.push(
      renderTable(columns, rows, {
        width: options.width,
        paint,
        rowPaint: (ri, ci, text) => {
          const r = data.shown[ri]!;
          if (ci === 1 || ci === 2) return paint(shareColour(whole === 0 ? 0 : r.totalBytes / whole), text);
          if (ci === 3 || ci === 4) return paint(shareColour(whole === 0 ? 0 : r.ownBytes / whole), text);
          return text;
        },
      }).trimEnd(),
    );
    if (data.omitted > 0) out.push(paint('dim', `… ${formatCount(data.omitted)} more location${data.omitted === 1 ? '' : 's'} (--max-rows, --threshold)`));
  }
  if (options.census !== undefined) {
    const c = options.census;
    const types = c.census.types.slice(0, CENSUS_TYPES).map((t) => `${escapeLine(t.type)} ${formatCount(t.count)} (${formatBytes(t.bytes)})`);
    out.push('', paint('bold', `What holds the memory: live Python objects ${captureCensusWhen(c)} (memlens census shows all of it)`));
    out.push(...wrapText(`${types.join(', ')}${c.census.typeCount > types.length ? ', …' : ''}; ${formatBytes(c.census.totalBytes)} in ${formatCount(c.census.totalCount)} objects.`, options.width, '  '));
    const groups = (c.census.pathGroups ?? []).filter((g) => g.pattern !== null).slice(0, CENSUS_TYPES);
    if (groups.length > 0) {
      const held = groups.map((g) => `${escapeLine(g.pattern ?? '')} (${formatCount(g.count)} ${escapeLine(g.type)}, ${formatBytes(g.bytes)})`);
      out.push(...wrapText(`Held by ${held.join('; ')}${pathSearchNote(c.census) !== undefined ? ' (the path search stopped at its bound: at least these)' : ''}.`, options.width, '  '));
    }
  }
  if (options.findings !== undefined && options.findings.length > 0) {
    out.push('', paint('bold', `Findings (memlens verdict shows all their evidence)`));
    out.push(...renderFindings(model, options.findings, { width: options.width, paint, brief: true }));
  }
  out.push('', ...wrapText(`How it ended: ${describeEnding(endingOf(model))}`, options.width, ''));
  const notes = [...(options.leaksNote !== undefined ? [options.leaksNote] : []), ...(options.hiddenNote !== undefined ? [options.hiddenNote] : []), ...captureNotes(model)];
  if (notes.length > 0) out.push('', ...notes.map((n) => paint('dim', `Note: ${n}`)));
  return out.join('\n') + '\n';
}

export interface SummaryJson {
  readonly schema: string;
  readonly capture: string;
  readonly ending: Record<string, unknown>;
  readonly set: AllocationSet['kind'];
  readonly total_bytes: number;
  readonly total_count: number;
  /** A sampled capture (docs/sampling.md): every byte and count is an estimate. null: every allocation was recorded. */
  readonly sampling: { readonly rate_bytes: number; readonly exact_bytes: number | null } | null;
  readonly rows: readonly {
    readonly function: string;
    readonly file: string;
    readonly line: number;
    readonly total_bytes: number;
    readonly own_bytes: number;
    readonly allocations: number;
  }[];
  readonly notes: readonly string[];
  readonly findings: readonly Record<string, unknown>[];
  /** The capture's census: when, why, its top types. */
  readonly census: Record<string, unknown> | null;
}

export function summaryJson(model: CaptureModel, data: SummaryData, findings: readonly Finding[] = [], census?: CaptureCensus, leaksNote?: string): SummaryJson {
  return jsonDocument('summary', {
    capture: describeCapture(model),
    ending: endingJson(endingOf(model)),
    set: data.set.kind,
    total_bytes: data.set.totalBytes,
    total_count: data.set.totalCount,
    sampling: model.sampling === undefined ? null : { rate_bytes: model.sampling.rateBytes, exact_bytes: Number.isFinite(model.sampling.exactBytes) ? model.sampling.exactBytes : null },
    rows: data.shown.map((r) => ({ function: r.function, file: r.file, line: r.line, total_bytes: r.totalBytes, own_bytes: r.ownBytes, allocations: r.count })),
    notes: [...(leaksNote !== undefined ? [leaksNote] : []), ...captureNotes(model)],
    findings: findings.map((f) => findingJson(model, f)),
    census:
      census === undefined
        ? null
        : {
            time_ns: census.timeNs,
            label: census.label,
            total_count: census.census.totalCount,
            total_bytes: census.census.totalBytes,
            types: census.census.types.slice(0, CENSUS_TYPES),
            path_groups: pathGroupsJson(census.census, CENSUS_TYPES),
            path_search: pathSearchJson(census.census),
          },
  });
}
