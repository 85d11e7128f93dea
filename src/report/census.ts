// Terminal text of a census of live objects and of the difference between two, and the census a capture
// holds as the verdict and the summary show it (its top types, beside the allocation sites). Pure.

import type { CaptureCensus } from '../analysis/capture-census.js';
import type { Census, CensusDiff } from '../analysis/census.js';
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
}

export function renderCensus(c: Census, o: CensusTextOptions): string {
  const paint = o.paint ?? noPaint;
  const out: string[] = [];
  out.push(`Census of live Python objects in ${escapeLine(o.title)}: paused it for ${c.pauseMs.toFixed(0)} ms`);
  out.push(
    `${formatCount(c.totalCount)} objects (${formatCount(c.trackedObjects)} followed by the GC), ${formatBytes(c.totalBytes)} by sys.getsizeof (shallow sizes)` +
      (c.partial ? ' — partial: the time budget ran out first' : ''),
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
  if (c.largest.length > 0) {
    out.push('', paint('bold', 'Largest objects'));
    const pathOf = new Map((c.paths ?? []).filter((p) => p.id !== undefined).map((p) => [p.id!, p]));
    for (const obj of c.largest.slice(0, Math.min(10, o.rows))) {
      const what = `${escapeLine(obj.type)}${obj.length >= 0 ? ` (len ${formatCount(obj.length)})` : ''}`;
      const p = pathOf.get(obj.id);
      const held = p === undefined ? '' : p.path !== null ? `  held by ${escapeLine(p.path)}` : `  ${escapeLine(p.reason ?? '')}`;
      out.push(`  ${formatBytes(obj.bytes).padStart(10)}  ${what}${held}`);
    }
  }
  const typePaths = (c.paths ?? []).filter((p) => p.id === undefined || !c.largest.some((l) => l.id === p.id));
  if (typePaths.length > 0) {
    out.push('', paint('bold', 'What keeps them alive'));
    for (const p of typePaths) out.push(`  ${escapeLine(p.target ?? '?')}: ${escapeLine(p.path ?? p.reason ?? '')}`);
  }
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
  if (d.cut) out.push(paint('dim', 'Types outside either census\'s top list count as 0 there: their change may be larger or smaller.'));
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
      `${formatCount(k.totalCount)} objects, ${formatBytes(k.totalBytes)} by sys.getsizeof (shallow sizes); the process paused ${k.pauseMs.toFixed(0)} ms for it${k.partial ? '; partial: its time budget ran out first' : ''}.`,
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
  const more = c.inCapture > 1 ? ` (the capture holds ${formatCount(c.inCapture)} censuses; memlens census shows each)` : '';
  out.push(...wrapText(`memlens census ${escapeLine(o.file ?? 'FILE')} shows all of it and the largest objects${more}.`, o.width, '    ', '  ').map((l) => paint('dim', l)));
  return out;
}
