// The memory snapshot series (SNAPSHOT records: RSS and its split, swap, cgroup usage and limit), column
// by column, with the tracked heap at each.
//
// An event capture's SNAPSHOT carries no heap: it is the replay's heap when the replay reaches the
// snapshot's seq. Snapshots arrive before the events they precede (the reader orders records by seq,
// whichever stream holds them: the agent's service stream, or an allocating thread's own when the service
// thread was late, agent/src/snapshot.c), so each waits, pending, until the replay gets there; the replay
// asks before every event (`nextSeq` is a number compare on the hot path).

import type { SnapshotRecord } from '../capture/records.js';
import type { SnapshotSeries } from './model.js';
import type { ReplayObserver } from './replay-observer.js';
import { MAX_PROCESS_BYTES } from './value-bounds.js';

/** The series as the builder fills it in (the model hands out the read-only SnapshotSeries). */
type SnapshotColumns = { readonly [K in keyof SnapshotSeries]: number[] };

export class SnapshotLog {
  readonly series: SnapshotColumns = {
    seq: [],
    timeNs: [],
    rss: [],
    rssAnon: [],
    rssFile: [],
    rssShmem: [],
    swap: [],
    heap: [],
    cgroupUsage: [],
    cgroupLimit: [],
    ownNs: [],
  };
  /** Snapshots that arrived after events with a higher seq: their heap is approximate. */
  lateSnapshots = 0;
  /** The lowest seq of a pending snapshot (Infinity: none): the replay calls reach() when it gets there. */
  nextSeq = Infinity;
  /** Snapshots whose heap waits for the replay to reach their seq (indexes into the series, in seq order). */
  private pending: number[] = [];

  constructor(private readonly observer: ReplayObserver | undefined) {}

  /** A SNAPSHOT record; the replay is at `lastSeq` with `heap` bytes live. */
  add(r: SnapshotRecord, lastSeq: number, heap: number): void {
    const s = this.series;
    const i = s.seq.length;
    s.seq.push(r.seq);
    s.timeNs.push(r.timeNs);
    s.rss.push(r.rss);
    s.rssAnon.push(r.rssAnon);
    s.rssFile.push(r.rssFile);
    s.rssShmem.push(r.rssShmem);
    s.swap.push(r.swap ?? NaN);
    s.cgroupUsage.push(r.cgroupUsage ?? NaN);
    // A limit no process can reach is no limit (value-bounds.ts).
    s.cgroupLimit.push(r.cgroupLimit !== undefined && r.cgroupLimit > MAX_PROCESS_BYTES ? 0 : (r.cgroupLimit ?? NaN));
    s.ownNs.push(r.ownNs ?? NaN);
    if (r.heap !== undefined) {
      s.heap.push(r.heap);
    } else if (r.seq <= lastSeq && lastSeq > 0) {
      // Events after it were replayed already: the heap now is the best we have.
      this.lateSnapshots++;
      s.heap.push(heap);
      this.observer?.snapshot(r.seq, r.timeNs);
    } else {
      s.heap.push(NaN);
      this.pending.push(i);
      if (r.seq < this.nextSeq) this.nextSeq = r.seq;
    }
  }

  /** The replay reached `seq` with `heap` bytes live: every pending snapshot at or below it gets that heap. */
  reach(seq: number, heap: number): void {
    const rest: number[] = [];
    let next = Infinity;
    const observer = this.observer;
    const s = this.series;
    // The observer hears of snapshots in seq order.
    if (observer !== undefined) this.pending.sort((a, b) => s.seq[a]! - s.seq[b]!);
    for (const i of this.pending) {
      const sseq = s.seq[i]!;
      if (sseq <= seq) {
        s.heap[i] = heap;
        observer?.snapshot(sseq, s.timeNs[i]!);
      } else {
        rest.push(i);
        if (sseq < next) next = sseq;
      }
    }
    this.pending = rest;
    this.nextSeq = next;
  }

  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** For a model of the middle of the stream: pending snapshots get `heap` now, and stay pending. */
  fillPending(heap: number): void {
    for (const i of this.pending) this.series.heap[i] = heap;
  }
}
