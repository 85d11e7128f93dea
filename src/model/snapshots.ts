// The memory snapshot series (SNAPSHOT records: RSS and its split, swap, cgroup usage and limit), column
// by column, with the tracked heap at each.
//
// An event capture's SNAPSHOT carries no heap: it is the replay's heap when the replay reaches the
// snapshot's seq. Snapshots arrive before the events they precede (the reader orders records by seq,
// whichever stream holds them: the agent's service stream, or an allocating thread's own when the service
// thread was late, agent/src/snapshot.c), so each waits, pending, until the replay gets there; the replay
// asks before every event (`nextSeq` is a number compare on the hot path).
//
// A snapshot's seq is the next event's (the agent takes none of its own), so two with no event between them
// share one: the session start's, written by the service thread, and an allocating thread's first, a few ms
// later, in the thread's own stream. The reader orders records by seq and ties by file order, where the
// thread's block may come first; the series keeps such ties in time order (add()), so that time never goes
// backwards between two of its points (captures already written have such ties: this is the reader's fix).

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
    // Its place: after the last one, unless the last ones share its seq and were taken after it.
    let i = s.seq.length;
    while (i > 0 && s.seq[i - 1] === r.seq && s.timeNs[i - 1]! > r.timeNs) i--;
    let h: number;
    let pending = false;
    if (r.heap !== undefined) {
      h = r.heap;
    } else if (r.seq <= lastSeq && lastSeq > 0) {
      // Events after it were replayed already: the heap now is the best we have.
      this.lateSnapshots++;
      h = heap;
      this.observer?.snapshot(r.seq, r.timeNs);
    } else {
      h = NaN;
      pending = true;
    }
    // A limit no process can reach is no limit (value-bounds.ts).
    const limit = r.cgroupLimit !== undefined && r.cgroupLimit > MAX_PROCESS_BYTES ? 0 : (r.cgroupLimit ?? NaN);
    const row: { readonly [K in keyof SnapshotColumns]: number } = {
      seq: r.seq,
      timeNs: r.timeNs,
      rss: r.rss,
      rssAnon: r.rssAnon,
      rssFile: r.rssFile,
      rssShmem: r.rssShmem,
      swap: r.swap ?? NaN,
      heap: h,
      cgroupUsage: r.cgroupUsage ?? NaN,
      cgroupLimit: limit,
      ownNs: r.ownNs ?? NaN,
    };
    const columns = Object.keys(row) as (keyof SnapshotColumns)[]; // the row has every column (its type says so)
    if (i === s.seq.length) {
      for (const k of columns) s[k].push(row[k]);
    } else {
      // Rare (a tie delivered later-time first): the columns shift by one, and so do the pending indexes.
      for (const k of columns) s[k].splice(i, 0, row[k]);
      for (let p = 0; p < this.pending.length; p++) if (this.pending[p]! >= i) this.pending[p] = this.pending[p]! + 1;
    }
    if (pending) {
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
    // The observer hears of snapshots in seq order, those of one seq in the series' order (time order).
    if (observer !== undefined) this.pending.sort((a, b) => s.seq[a]! - s.seq[b]! || a - b);
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
