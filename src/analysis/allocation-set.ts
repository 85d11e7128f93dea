// The allocations a report is about, per site: those live at the peak, those still live at the end, the
// temporary ones, or all of them. Every report (summary, tree, exports, flame graph) starts from one.

import type { SiteId } from '../model/ids.js';
import type { CaptureModel } from '../model/model.js';
import type { SiteColumnName } from '../model/site-table.js';

export type SetKind = 'peak' | 'leaks' | 'temporary' | 'total';

export interface SiteAmount {
  readonly site: SiteId;
  readonly bytes: number;
  readonly count: number;
}

export interface AllocationSet {
  readonly kind: SetKind;
  readonly totalBytes: number;
  readonly totalCount: number;
  /** Sites with something in the set, largest first. */
  readonly sites: readonly SiteAmount[];
}

export function siteAmounts(model: CaptureModel, kind: SetKind, bytesColumn: SiteColumnName, countColumn: SiteColumnName): AllocationSet {
  const bytes = model.sites.columns[bytesColumn].array;
  const counts = model.sites.columns[countColumn].array;
  const sites: SiteAmount[] = [];
  let totalBytes = 0;
  let totalCount = 0;
  for (let s = 0 as SiteId; s < model.sites.size; s++) {
    const b = bytes[s]!;
    const n = counts[s]!;
    if (b === 0 && n === 0) continue;
    sites.push({ site: s, bytes: b, count: n });
    totalBytes += b;
    totalCount += n;
  }
  sites.sort((a, b) => b.bytes - a.bytes || b.count - a.count || a.site - b.site);
  return { kind, totalBytes, totalCount, sites };
}

/** Every allocation made while tracking (totals per site). */
export function allAllocations(model: CaptureModel): AllocationSet {
  return siteAmounts(model, 'total', 'totalBytes', 'totalCount');
}
