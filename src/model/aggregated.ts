// Aggregated captures: the agent keeps the totals per location (stream, stack, native stack, allocator)
// and writes them in CHECKPOINT records while it runs, instead of every event. This turns the latest
// checkpoint entries into the same per-site columns and heap figures the event replay gives
// (heap-replay.ts), so every analysis reads both kinds of capture alike.

import type { CheckpointEntry, CheckpointRecord } from '../capture/records.js';
import type { HeapTotals } from './heap-replay.js';
import type { SiteId, StreamId } from './ids.js';
import { PeakSaves } from './site-peaks.js';
import type { SiteTable } from './site-table.js';
import type { StackResolver } from './stack-resolver.js';
import { ImpossibleValues, impossibleEntry, MAX_PROCESS_BYTES } from './value-bounds.js';

export class CheckpointLog {
  /** The latest CHECKPOINT (they are cumulative). */
  last: CheckpointRecord | undefined;
  seen = false;
  /** The latest entry per location. */
  private readonly entries = new Map<string, CheckpointEntry>();

  constructor(
    private readonly stacks: StackResolver,
    private readonly impossible: ImpossibleValues,
  ) {}

  /** Takes a CHECKPOINT; returns it without the entries that hold impossible values (value-bounds.ts). */
  add(r: CheckpointRecord): CheckpointRecord {
    this.seen = true;
    const entries = r.entries.filter((e) => !this.impossible.add(impossibleEntry(e)));
    const kept = entries.length === r.entries.length ? r : { ...r, entries };
    this.last = kept;
    // Entries name per-stream stack ids whose FRAME records may come later in the file (another stream's
    // block): keep the latest entry per location and resolve them all at the end.
    for (const e of entries) this.entries.set(`${e.stream}:${e.stack}:${e.nativeStack}:${e.allocator}`, e);
    return kept;
  }

  /** The site of a checkpoint entry's location in `sites` (stacks as they are now). */
  siteOf(sites: SiteTable, e: CheckpointEntry): SiteId {
    const l = this.stacks.localStacks(e.stream as StreamId, e.stack, e.nativeStack);
    return sites.intern(l.py, l.native, l.thread, e.allocator);
  }

  /**
   * The heap figures from the latest checkpoint entries, put into `sites` (the builder's own table at the
   * end, a copy of it in the middle of a stream) and the allocator columns given.
   *
   * A location's share of the peak is its live value if it has not changed since the peak, else the
   * value it saved when it first changed after it.
   */
  totals(sites: SiteTable, allocatorCounts: Float64Array, allocatorBytes: Float64Array, lastSeq: number): HeapTotals {
    // The entries' counts are varints, past 2^31 in a long run: Float64 (a replay of events, if any, chose Int32).
    sites.widenCounts();
    const c = sites.columns;
    const cp = this.last;
    let unknown = 0;
    // Together, the locations cannot have made more allocations than there are seqs, nor hold more than a
    // process can: an entry that would take the sums past either is impossible (value-bounds.ts).
    const impossibleEntries = new ImpossibleValues();
    let madeCount = 0;
    let liveBytes = 0;
    // The entries' values at the peak, per site once every entry is interned (below).
    const peakSites: number[] = [];
    const peakEntries: CheckpointEntry[] = [];
    for (const e of this.entries.values()) {
      if (e.totalCount > Number.MAX_SAFE_INTEGER - madeCount) {
        impossibleEntries.add({ record: 'checkpoint entry', field: 'total_count (with the others)', value: madeCount + e.totalCount, bytes: false });
        continue;
      }
      if (e.liveBytes > MAX_PROCESS_BYTES - liveBytes) {
        impossibleEntries.add({ record: 'checkpoint entry', field: 'live_bytes (with the others)', value: liveBytes + e.liveBytes, bytes: true });
        continue;
      }
      madeCount += e.totalCount;
      liveBytes += e.liveBytes;
      const l = this.stacks.localStacks(e.stream as StreamId, e.stack, e.nativeStack);
      if ((e.stack > 0 && l.py === 0) || (e.nativeStack > 0 && l.native === 0)) unknown++;
      const site = sites.intern(l.py, l.native, l.thread, e.allocator);
      c.totalCount.array[site] = c.totalCount.array[site]! + e.totalCount;
      c.totalBytes.array[site] = c.totalBytes.array[site]! + e.totalBytes;
      c.liveCount.array[site] = c.liveCount.array[site]! + e.liveCount;
      c.liveBytes.array[site] = c.liveBytes.array[site]! + e.liveBytes;
      peakSites.push(site);
      peakEntries.push(e);
      c.updatedSeq.array[site] = Math.max(c.updatedSeq.array[site]!, e.updatedSeq);
    }
    let allocations = 0;
    let bytesAllocated = 0;
    let endLiveCount = 0;
    // Two entries can land on one site only if damage lost their stacks: their values at the peak are summed.
    const peakBytes = new Float64Array(sites.size);
    const peakCount = new Float64Array(sites.size);
    for (let i = 0; i < peakSites.length; i++) {
      const site = peakSites[i]!;
      peakBytes[site] = peakBytes[site]! + peakEntries[i]!.savedPeakBytes;
      peakCount[site] = peakCount[site]! + peakEntries[i]!.savedPeakCount;
    }
    // A site updated after the peak has its entries' values at it (saved), the others their live values.
    const saves = new PeakSaves();
    saves.ensureSites(sites.size);
    for (let s = 0 as SiteId; s < sites.size; s++) {
      const k = sites.allocator(s) & 15;
      allocatorCounts[k] = allocatorCounts[k]! + c.totalCount.array[s]!;
      allocatorBytes[k] = allocatorBytes[k]! + c.totalBytes.array[s]!;
      if (c.updatedSeq.array[s]! > (cp?.peakSeq ?? 0)) {
        saves.bits[s >>> 5] = saves.bits[s >>> 5]! | (1 << (s & 31));
        saves.save(s, peakBytes[s]!, peakCount[s]!);
      }
    }
    sites.setPeaks(saves.peaks(sites.size, c.liveBytes.array, c.liveCount.array));
    for (let s = 0; s < sites.size; s++) {
      allocations += c.totalCount.array[s]!;
      bytesAllocated += c.totalBytes.array[s]!;
      endLiveCount += c.liveCount.array[s]!;
    }
    const maxHeap = cp?.peakHeap ?? 0;
    const maxHeapSeq = cp?.peakSeq ?? 0;
    return {
      sites,
      allocatorCounts,
      allocatorBytes,
      unknownStacks: this.stacks.unknownStacks + unknown,
      impossibleEntries,
      allocations,
      bytesAllocated,
      endHeap: cp?.heap ?? 0,
      endLiveCount,
      maxHeap,
      maxHeapSeq,
      peakHeap: maxHeap,
      peakSeq: maxHeapSeq,
      peakFound: true,
      lastSeq: Math.max(lastSeq, cp?.seq ?? 0),
    };
  }
}
