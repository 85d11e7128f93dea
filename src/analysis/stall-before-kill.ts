// The stall before a kill: the program allocated and freed nothing for at least the window of "what grew in
// the last seconds" before it was killed at its memory limit, while memory snapshots went on. Seen on a
// dict cache under a 96 MiB limit beside busy loops: the kernel reclaimed for ~30 s (PSI "some" avg10 36%)
// before the OOM kill, the program stuck in page faults, so the last 5 s held no growth and the verdict
// named nothing. Then the window is the one before the program's last change (recent-growth.ts), and the
// report says the program stalled, with the evidence the capture holds.
//
// Only a kill at the limit is a stall: a program that sleeps at its end and exits (or is stopped, or killed
// by another signal while below its limit) simply ended quietly, and its last seconds are what they were.
// Pure.

import type { PressureRecord } from '../capture/records.js';
import type { CaptureModel } from '../model/model.js';
import type { Ending } from './ending.js';
import { limitReachedNs } from './memory-limit.js';
import type { RecentGrowthResult } from './recent-growth.js';

/**
 * The agent writes a CHECKPOINT at least once a second while locations change (docs/capture-format.md):
 * in an aggregated capture a change is only known not to have happened up to this long before the last
 * snapshot, when no checkpoint came after it.
 */
export const CHECKPOINT_AT_LEAST_NS = 1_000_000_000;

export interface StallBeforeKill {
  /** The program's last allocation or free came before this moment (recent-growth.ts lastChangeNs). */
  readonly lastChangeNs: number;
  /** From lastChangeNs to the end (the kill). */
  readonly quietNs: number;
  /** The kernel's OOM killer ended the process (the EXIT record says so); false: the capture was cut off, or killed by SIGKILL, at the limit. */
  readonly oomKill: boolean;
  /** The highest share of the last 10 s in which some task stalled waiting for memory (PSI, hundredths of a percent), among the samples of the stall; undefined: none. */
  readonly someAvg10Max: number | undefined;
  /** The same for all non-idle tasks at once ("full"), when the kernel told it. */
  readonly fullAvg10Max: number | undefined;
  /** The file the pressure was read from (a cgroup's memory.pressure, or the whole machine's). */
  readonly pressureSource: string | undefined;
  /** Since when usage stayed at 95% of the limit or more (memory-limit.ts), if it ended there. */
  readonly atLimitFromNs: number | undefined;
}

/**
 * The stall before the kill, when there was one: the process was killed at its limit (by the OOM killer, or
 * a capture cut off or SIGKILLed at 95% of the limit or more), and the capture shows no allocation or free
 * for at least the window (`recent.lastNs`) after the program's last change.
 */
export function stallBeforeKill(model: CaptureModel, ending: Ending, recent: RecentGrowthResult): StallBeforeKill | undefined {
  const last = recent.lastChangeNs;
  if (last === undefined || recent.changedAfterLast || recent.beforeLastChange === undefined) return undefined;
  const oomKill = ending.oomKill === 'yes';
  const cutAtLimit = ending.oomKill !== 'no' && (ending.kind === 'abrupt' || (ending.kind === 'signal' && ending.signal === 9)) && limitReachedNs(model) !== undefined;
  if (!oomKill && !cutAtLimit) return undefined;
  // How long the capture shows nothing was done: events, up to the last snapshot (a change after it would be
  // seen); aggregated, up to the last checkpoint, or a second before the last snapshot (a change would be in
  // a checkpoint by then).
  const times = model.snapshots.timeNs;
  const lastSnapshotNs = times.length === 0 ? undefined : times[times.length - 1]!;
  let quietUntil = recent.toNs ?? last;
  if (model.aggregated && lastSnapshotNs !== undefined) quietUntil = Math.max(quietUntil, lastSnapshotNs - CHECKPOINT_AT_LEAST_NS);
  if (quietUntil - last < recent.lastNs) return undefined;
  const during = model.pressure.filter((p) => p.timeNs >= last);
  return {
    lastChangeNs: last,
    quietNs: Math.max(0, ending.endNs - last),
    oomKill,
    someAvg10Max: maxOf(during, (p) => p.someAvg10),
    fullAvg10Max: maxOf(during, (p) => p.fullAvg10),
    pressureSource: during.length === 0 ? undefined : during.reduce((a, p) => (p.someAvg10 > a.someAvg10 ? p : a)).source,
    atLimitFromNs: limitReachedNs(model),
  };
}

function maxOf(samples: readonly PressureRecord[], of: (p: PressureRecord) => number | undefined): number | undefined {
  let best: number | undefined;
  for (const p of samples) {
    const v = of(p);
    if (v !== undefined && (best === undefined || v > best)) best = v;
  }
  return best;
}
