// Terminal text of a census of live objects and of the difference between two, and the census a capture
// holds as the verdict and the summary show it (its top types, beside the allocation sites). Pure.

import type { CaptureCensus } from '../analysis/capture-census.js';
import type { Census, CensusDiff, CensusPathGroup } from '../analysis/census.js';
import { noPaint, type Paint } from '../util/paint.js';
import { escapeLine } from '../util/terminal-text.js';
import { wrapText } from '../util/text.js';
import { formatBytes, formatCount, formatPercent, formatSignedBytes, formatTime } from '../util/units.js';
import { renderTable } from './text-table.js';

export interface CensusTextOptions {
  readonly width: number;
  readonly rows: number;
  readonly paint?: Paint;
  /** What the census is of: "PID 1234 (python3 app.py)" or a file name. */
  readonly title: string;
  /** Path groups and largest objects to show (default PATH_ROWS). */
  readonly paths?: number;
}

/** Path groups and largest objects a census shows unless told. */
export const PATH_ROWS = 10;

/** What a group's pattern says, or why it has none. */
function groupWhere(g: CensusPathGroup): string {
  return escapeLine(g.pattern ?? `(${g.reason ?? 'not reached from any root'})`);
}

/** How far the reference-path search went, when it stopped short: its groups count what it reached. */
export function pathSearchNote(c: Census): string | undefined {
  const s = c.pathSearch;
  if (s === undefined || !s.partial) return undefined;
  return `The path search stopped at ${escapeLine(s.bound ?? 'a bound')} after ${formatCount(s.visited)} objects, ${formatCount(s.depth)} levels from the roots: the groups count the objects it reached.`;
}

/**
 * The census's objects grouped by the shape of the path that keeps them alive, largest first: a table of
 * pattern, type, objects, bytes, share of the census. Nothing when the census made no search.
 */
function renderPathGroups(c: Census, o: { width: number; rows: number; paint: Paint }): string[] {
  const groups = c.pathGroups;
  if (groups === undefined || o.rows <= 0) return [];
  const types = c.pathSearch?.types ?? [...new Set(groups.map((g) => g.type))];
  const out: string[] = ['', o.paint('bold', `What keeps them alive, by path (objects of ${types.map(escapeLine).join(', ')}; a key or index that varies shows as [*])`)];
  if (groups.length === 0) {
    out.push('  The search reached none of their objects.');
    return out;
  }
  // The path last and whole: it is the answer, and its end (`.payload`) as much as its root.
  const rows = groups.slice(0, o.rows).map((g) => [formatCount(g.count), formatBytes(g.bytes), formatPercent(g.bytes, c.totalBytes), escapeLine(g.type), groupWhere(g)]);
  out.push(
    renderTable(
      [
        { title: 'Objects', align: 'right' },
        { title: 'Bytes', align: 'right' },
        { title: 'Share', align: 'right' },
        { title: 'Type', align: 'left' },
        { title: 'Path', align: 'left' },
      ],
      rows,
      { width: o.width, paint: o.paint },
    ).trimEnd(),
  );
  if (groups.length > rows.length) out.push(o.paint('dim', `… ${formatCount(groups.length - rows.length)} more groups (--paths N shows more)`));
  const note = pathSearchNote(c);
  if (note !== undefined) out.push(o.paint('yellow', note));
  return out;
}

/**
 * The largest objects, each with the path that keeps it alive (or why there is none). When the census
 * asked for paths, only the objects it asked for: a row without a path would read as missing data.
 */
function renderLargest(c: Census, o: { rows: number; paint: Paint }): string[] {
  if (c.largest.length === 0 || o.rows <= 0) return [];
  const pathOf = new Map((c.paths ?? []).filter((p) => p.id !== undefined).map((p) => [p.id!, p]));
  const shown = (c.paths !== undefined ? c.largest.filter((l) => pathOf.has(l.id)) : c.largest).slice(0, o.rows);
  // Paths asked for by type (--type) or for objects outside the largest list.
  const others = (c.paths ?? []).filter((p) => p.id === undefined || !c.largest.some((l) => l.id === p.id));
  if (shown.length === 0 && others.length === 0) return [];
  const out: string[] = ['', o.paint('bold', c.paths !== undefined ? 'Largest objects and what keeps each alive' : 'Largest objects')];
  for (const obj of shown) {
    const what = `${escapeLine(obj.type)}${obj.length >= 0 ? ` (len ${formatCount(obj.length)})` : ''}`;
    const p = pathOf.get(obj.id);
    const held = p === undefined ? '' : p.path !== null ? `  held by ${escapeLine(p.path)}` : `  ${escapeLine(p.reason ?? '')}`;
    out.push(`  ${formatBytes(obj.bytes).padStart(10)}  ${what}${held}`);
  }
  for (const p of others) out.push(`  ${escapeLine(p.target ?? '?')}: ${escapeLine(p.path ?? p.reason ?? '')}`);
  return out;
}

export function renderCensus(c: Census, o: CensusTextOptions): string {
  const paint = o.paint ?? noPaint;
  const out: string[] = [];
  out.push(`Census of live Python objects in ${escapeLine(o.title)}: paused it for ${c.pauseMs.toFixed(0)} ms`);
  out.push(
    `${formatCount(c.totalCount)} objects (${formatCount(c.trackedObjects)} followed by the GC), ${formatBytes(c.totalBytes)} by sys.getsizeof (shallow sizes)` +
      (c.partial ? ' — partial: the census stopped at its bound (objects or CPU time) first' : ''),
  );
  out.push('');
  const rows = c.types.slice(0, o.rows).map((t) => [escapeLine(t.type), formatCount(t.count), formatBytes(t.bytes), formatPercent(t.bytes, c.totalBytes)]);
  out.push(
    renderTable(
      [
        { title: 'Type', align: 'left', flex: true, truncate: (s, w) => `${s.slice(0, w - 1)}…` },
        { title: 'Objects', align: 'right' },
        { title: 'Bytes', align: 'right' },
        { title: 'Share', align: 'right' },
      ],
      rows,
      { width: o.width, paint },
    ).trimEnd(),
  );
  if (c.typeCount > rows.length) out.push(paint('dim', `… ${formatCount(c.typeCount - rows.length)} more types`));
  out.push(...renderPathGroups(c, { width: o.width, rows: o.paths ?? PATH_ROWS, paint }));
  out.push(...renderLargest(c, { rows: Math.min(o.paths ?? PATH_ROWS, o.rows), paint }));
  if (c.gc !== undefined) {
    out.push('');
    const frozen = c.gc.frozen !== null && c.gc.frozen > 0 ? `, ${formatCount(c.gc.frozen)} objects frozen (gc.freeze)` : '';
    out.push(
      `GC: ${c.gc.enabled ? 'enabled' : paint('yellow', 'disabled (gc.disable()): reference cycles are never collected')}, thresholds ${c.gc.thresholds.join('/')}, ` +
        `pending ${c.gc.counts.join('/')}${frozen}${c.gc.garbage > 0 ? `, ${formatCount(c.gc.garbage)} objects in gc.garbage` : ''}`,
    );
  }
  return out.join('\n') + '\n';
}

export function renderCensusDiff(d: CensusDiff, o: CensusTextOptions): string {
  const paint = o.paint ?? noPaint;
  const out: string[] = [];
  out.push(`Census change in ${escapeLine(o.title)}, over ${d.seconds.toFixed(1)} s:`);
  out.push(
    `objects ${formatCount(d.totalCountBefore)} → ${formatCount(d.totalCountAfter)}, ` +
      `bytes ${formatBytes(d.totalBytesBefore)} → ${formatBytes(d.totalBytesAfter)} (${formatSignedBytes(d.totalBytesAfter - d.totalBytesBefore)})`,
  );
  out.push('');
  if (d.changes.length === 0) {
    out.push('No type changed.');
    return out.join('\n') + '\n';
  }
  const rows = d.changes.slice(0, o.rows).map((c) => {
    const dc = c.countAfter - c.countBefore;
    return [escapeLine(c.type), `${dc >= 0 ? '+' : ''}${formatCount(dc)}`, formatSignedBytes(c.bytesAfter - c.bytesBefore), formatCount(c.countAfter), formatBytes(c.bytesAfter)];
  });
  out.push(
    renderTable(
      [
        { title: 'Type', align: 'left', flex: true, truncate: (s, w) => `${s.slice(0, w - 1)}…` },
        { title: 'Objects', align: 'right' },
        { title: 'Bytes', align: 'right' },
        { title: 'Now', align: 'right' },
        { title: 'Now bytes', align: 'right' },
      ],
      rows,
      { width: o.width, paint },
    ).trimEnd(),
  );
  if (d.cut) out.push(paint('dim', "Types outside either census's top list count as 0 there: their change may be larger or smaller."));
  return out.join('\n') + '\n';
}

/** When and why a capture's census was taken: `at 3.081 s, near OOM`. */
export function captureCensusWhen(c: CaptureCensus): string {
  const why = c.label === 'near-oom' ? 'near OOM' : c.label === 'growth' ? 'as memory grew (--census-at-peak)' : escapeLine(c.label);
  return `at ${formatTime(c.timeNs)}${why !== '' ? `, ${why}` : ''}`;
}

export interface CaptureCensusTextOptions {
  readonly width: number;
  readonly rows: number;
  readonly paint?: Paint;
  /** The capture's file name, for the command that shows all of it. */
  readonly file?: string;
}

/**
 * The census a capture holds, as the verdict shows it: when and why it was taken, its totals, its top
 * types by bytes (sizes are shallow: sys.getsizeof). Lines indented by two.
 */
export function renderCaptureCensus(c: CaptureCensus, o: CaptureCensusTextOptions): string[] {
  const paint = o.paint ?? noPaint;
  const k = c.census;
  const out: string[] = [];
  out.push(
    ...wrapText(
      `${formatCount(k.totalCount)} objects, ${formatBytes(k.totalBytes)} by sys.getsizeof (shallow sizes); the process paused ${k.pauseMs.toFixed(0)} ms for it${k.partial ? '; partial: it stopped at its bound (objects or CPU time) first' : ''}.`,
      o.width,
      '    ',
      '  ',
    ),
  );
  const rows = k.types.slice(0, o.rows).map((t) => [escapeLine(t.type), formatCount(t.count), formatBytes(t.bytes), formatPercent(t.bytes, k.totalBytes)]);
  if (rows.length > 0) {
    out.push(
      ...renderTable(
        [
          { title: 'Type', align: 'left', flex: true, truncate: (t, w) => `${t.slice(0, w - 1)}…` },
          { title: 'Objects', align: 'right' },
          { title: 'Bytes', align: 'right' },
          { title: 'Share', align: 'right' },
        ],
        rows,
        { width: o.width - 2, paint },
      )
        .trimEnd()
        .split('\n')
        .map((l) => `  ${l}`),
    );
  }
  // What keeps them alive: the largest path groups (objects grouped by the shape of their path).
  const groups = (k.pathGroups ?? []).slice(0, o.rows);
  if (groups.length > 0) {
    out.push(`  ${paint('bold', 'Held by')} (objects grouped by the path that keeps them alive; [*]: any key or index)`);
    out.push(
      ...renderTable(
        [
          { title: 'Objects', align: 'right' },
          { title: 'Bytes', align: 'right' },
          { title: 'Type', align: 'left' },
          { title: 'Path', align: 'left' },
        ],
        groups.map((g) => [formatCount(g.count), formatBytes(g.bytes), escapeLine(g.type), groupWhere(g)]),
        { width: o.width - 2, paint },
      )
        .trimEnd()
        .split('\n')
        .map((l) => `  ${l}`),
    );
    const note = pathSearchNote(k);
    if (note !== undefined) out.push(...wrapText(note, o.width, '    ', '  ').map((l) => paint('yellow', l)));
  } else if (k.pathGroups === undefined) {
    out.push(...wrapText('This census has no reference paths (taken by an older memlens, or with --paths 0).', o.width, '    ', '  ').map((l) => paint('dim', l)));
  }
  const more = c.inCapture > 1 ? ` (the capture holds ${formatCount(c.inCapture)} censuses; memlens census shows each)` : '';
  out.push(
    ...wrapText(`memlens census ${escapeLine(o.file ?? 'FILE')} shows all of it, the path groups and the largest objects with their paths${more}.`, o.width, '    ', '  ').map((l) => paint('dim', l)),
  );
  return out;
}

/** The largest path groups of a census for the JSON documents (snake_case, docs/json.md); null: no search. */
export function pathGroupsJson(c: Census, rows: number): Record<string, unknown>[] | null {
  if (c.pathGroups === undefined) return null;
  return c.pathGroups.slice(0, rows).map((g) => ({ pattern: g.pattern, type: g.type, count: g.count, bytes: g.bytes, example: g.example, ...(g.reason !== undefined ? { reason: g.reason } : {}) }));
}

/** What the path search covered, for the JSON documents; null: no search. */
export function pathSearchJson(c: Census): Record<string, unknown> | null {
  const s = c.pathSearch;
  return s === undefined ? null : { types: s.types, visited: s.visited, depth: s.depth, partial: s.partial, bound: s.bound, pause_ms: s.pauseMs };
}
