// The allocations a report is about, per site: those live at the peak, those still live at the end, the
// temporary ones, or all of them. Every report (summary, tree, exports, flame graph) starts from one.
//
// A set of the model's sites (siteAmounts()) holds them as columns, sorted, and makes the `sites` objects
// only when something reads them: an object per site (with its two numbers boxed) was ~80 bytes, and a
// capture can have millions of sites (call_sites at 5 % of its size: 1.18 M, ~95 MiB of `stats`' peak, whose
// statistics read the set only through stacksOf(), which reads the columns; docs/benchmarks.md, round
// nineteen). The columns: 16 bytes a site, and 4 of order.

import type { SiteId } from '../model/ids.js';
import type { CaptureModel } from '../model/model.js';
import type { SiteColumnName } from '../model/site-table.js';

export type SetKind = 'peak' | 'leaks' | 'temporary' | 'total';

export interface SiteAmount {
  readonly site: SiteId;
  readonly bytes: number;
  readonly count: number;
}

/** The sites of a set as columns, in the order of `sites` (index i of each is `sites[i]`). */
export interface SiteAmountColumns {
  readonly site: Int32Array;
  readonly bytes: Float64Array;
  readonly count: Float64Array;
}

export interface AllocationSet {
  readonly kind: SetKind;
  readonly totalBytes: number;
  readonly totalCount: number;
  /** Sites with something in the set, largest first. */
  readonly sites: readonly SiteAmount[];
  /** The same sites as columns, when the set was made with them (a reader of every site reads these rather than `sites`). */
  readonly columns?: SiteAmountColumns;
}

export function siteAmounts(model: CaptureModel, kind: SetKind, bytesColumn: SiteColumnName, countColumn: SiteColumnName): AllocationSet {
  const bytes = model.sites.columns[bytesColumn].array;
  const counts = model.sites.columns[countColumn].array;
  const size = model.sites.size;
  let n = 0;
  let totalBytes = 0;
  let totalCount = 0;
  for (let s = 0; s < size; s++) {
    const b = bytes[s]!;
    const c = counts[s]!;
    if (b === 0 && c === 0) continue;
    n++;
    totalBytes += b;
    totalCount += c;
  }
  const order = new Int32Array(n);
  n = 0;
  for (let s = 0; s < size; s++) if (bytes[s] !== 0 || counts[s] !== 0) order[n++] = s;
  order.sort((a, b) => bytes[b]! - bytes[a]! || counts[b]! - counts[a]! || a - b);
  // The values copied in order: the model's columns may change after (a live capture's model goes on).
  const columns: SiteAmountColumns = { site: order, bytes: new Float64Array(n), count: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    columns.bytes[i] = bytes[order[i]!]!;
    columns.count[i] = counts[order[i]!]!;
  }
  return amountSet(kind, totalBytes, totalCount, columns);
}

/** A set of these columns (sorted), whose `sites` objects are made only when read. */
function amountSet(kind: SetKind, totalBytes: number, totalCount: number, columns: SiteAmountColumns): AllocationSet {
  let sites: SiteAmount[] | undefined;
  return {
    kind,
    totalBytes,
    totalCount,
    columns,
    get sites(): readonly SiteAmount[] {
      sites ??= Array.from(columns.site, (site, i) => ({ site: site as SiteId, bytes: columns.bytes[i]!, count: columns.count[i]! }));
      return sites;
    },
  };
}

/**
 * The allocations live at the peak: siteAmounts() of the values at the peak, which are not columns of every site
 * (the table's `peak`, site-peaks.ts) but come as the sites with something at the peak, in site order. The same
 * sums in the same order and the same sort (its ties by site, the entries being in site order) as siteAmounts().
 */
export function peakAmounts(model: CaptureModel): AllocationSet {
  const peak = model.sites.peak.nonzero(model.sites.size);
  const n = peak.length;
  let totalBytes = 0;
  let totalCount = 0;
  for (let i = 0; i < n; i++) {
    totalBytes += peak.bytes[i]!;
    totalCount += peak.count[i]!;
  }
  const bytes = peak.bytes;
  const counts = peak.count;
  const site = peak.site;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => bytes[b]! - bytes[a]! || counts[b]! - counts[a]! || a - b);
  // nonzero()'s arrays are this set's own: put in sorted order where they are, cycle by cycle (entry i takes
  // entry order[i]; a visited i's order is made negative), rather than copied into three more columns of
  // the same size while they are held (a capture whose millions of sites all hold something at the peak: a
  // recursive tree freed at the interpreter's end, 84 MB more of summary's peak; docs/benchmarks.md, round
  // twenty-seven, peak27b).
  for (let start = 0; start < n; start++) {
    if (order[start]! < 0) continue;
    const s0 = site[start]!;
    const b0 = bytes[start]!;
    const c0 = counts[start]!;
    let i = start;
    for (;;) {
      const k = order[i]!;
      order[i] = -1 - k;
      if (k === start) {
        site[i] = s0;
        bytes[i] = b0;
        counts[i] = c0;
        break;
      }
      site[i] = site[k]!;
      bytes[i] = bytes[k]!;
      counts[i] = counts[k]!;
      i = k;
    }
  }
  return amountSet('peak', totalBytes, totalCount, { site, bytes, count: counts });
}

/** Every allocation made while tracking (totals per site). */
export function allAllocations(model: CaptureModel): AllocationSet {
  return siteAmounts(model, 'total', 'totalBytes', 'totalCount');
}
