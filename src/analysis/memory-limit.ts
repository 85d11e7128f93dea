// The memory limit a capture ran under (the cgroup's, from the header or the snapshots) and how much of it
// was in use at the last snapshot: what the verdict's "peak against the limit" and the accumulation
// finding's "when the limit is reached" are measured against.

import type { CaptureModel } from '../model/model.js';

/** The cgroup memory limit in bytes (the last one the snapshots recorded), or undefined: none recorded. */
export function memoryLimitOf(model: CaptureModel): number | undefined {
  let limit = model.header.cgroupLimitBytes !== undefined && model.header.cgroupLimitBytes > 0 ? model.header.cgroupLimitBytes : undefined;
  for (const l of model.snapshots.cgroupLimit) if (Number.isFinite(l) && l > 0) limit = l;
  return limit;
}

export interface UsageAtEnd {
  /** What the limit is charged with at the last snapshot: the cgroup's usage, else the process's RSS. */
  readonly bytes: number;
  readonly timeNs: number;
  readonly what: 'cgroup' | 'rss';
}

/** Usage at the last snapshot, as the limit counts it; undefined without a snapshot. */
export function usageAtEnd(model: CaptureModel): UsageAtEnd | undefined {
  const s = model.snapshots;
  const n = s.timeNs.length;
  if (n === 0) return undefined;
  const cg = s.cgroupUsage[n - 1]!;
  if (Number.isFinite(cg) && cg > 0) return { bytes: cg, timeNs: s.timeNs[n - 1]!, what: 'cgroup' };
  return { bytes: s.rss[n - 1]!, timeNs: s.timeNs[n - 1]!, what: 'rss' };
}

/**
 * Usage at least this share of the limit is "at the limit": the kernel is reclaiming what it can (page
 * cache, the program's own file pages) and the program barely moves until the OOM killer ends it.
 */
export const AT_LIMIT_SHARE = 0.95;

/**
 * When the process reached its memory limit for good: the first snapshot of the last stretch of snapshots
 * at AT_LIMIT_SHARE of the limit or more, when the capture ends inside one; undefined otherwise (no limit,
 * or it ended below it). What happens after is the stall before an OOM kill, not the program's own pace.
 */
export function limitReachedNs(model: CaptureModel): number | undefined {
  const limit = memoryLimitOf(model);
  const s = model.snapshots;
  if (limit === undefined) return undefined;
  const used = (i: number): number => {
    const cg = s.cgroupUsage[i]!;
    return Number.isFinite(cg) && cg > 0 ? cg : s.rss[i]!;
  };
  let i = s.timeNs.length - 1;
  if (i < 0 || used(i) < AT_LIMIT_SHARE * limit) return undefined;
  while (i > 0 && used(i - 1) >= AT_LIMIT_SHARE * limit) i--;
  return s.timeNs[i];
}
