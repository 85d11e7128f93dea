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
