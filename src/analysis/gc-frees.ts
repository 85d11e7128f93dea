// Memory freed by the cyclic garbage collector: the frees whose seq falls inside [start_seq, seq) of a GC
// record (the agent takes start_seq when the collection starts). Reference counting frees everything
// else, so these are the cycles the collector found, and the sites that allocated them.
//
// A GC record reaches the replay right after the events with a lower seq, so the collection's frees were
// the last ones seen: they wait in a ring of recent frees, which each GC record empties (collections
// never overlap: CPython runs one at a time). A collection that freed more than the ring holds is counted
// as incomplete (its figures are then lower bounds).

import type { GcRecord } from '../capture/records.js';
import type { SiteId } from '../model/ids.js';
import type { ReplayObserver } from '../model/replay-observer.js';

/**
 * Frees kept at most (6 bytes each, 7 once many frees of 64 KiB or more were kept, 9 once a site id of 2^16 or
 * more was: 1.5–2.3 MiB). The ring holds the frees since the last collection, the oldest overwritten first,
 * so a collection is counted exactly unless it alone freed more than this.
 */
export const GC_RING_MAX = 1 << 18;

/** In `deltas`: the value did not fit, it is in the entry's slot of the side map. */
const DELTA_BESIDE = 0xffff;
/** In the bytes' 24 bits (`bytesLo` and `bytesHi`): the same. */
const BYTES_BESIDE = 0xffffff;
/** In `bytesLo` while there is no `bytesHi`: the same (so a free of 0xffff bytes or more is kept beside). */
const LO_BESIDE = 0xffff;
/**
 * Frees of 64 KiB or more kept beside at once before `bytesHi` is made (256 KiB for the whole ring, where
 * a Map of this many entries takes a few tens of KiB): most programs free few such buffers between two
 * collections (the benchmark's workload: one a few thousand frees), and the array was written whole, a
 * quarter MiB of a report's peak (docs/benchmarks.md, "stats' peak, round thirteen").
 */
const BESIDE_BEFORE_HI = 1024;

export interface SiteFreed {
  bytes: number;
  count: number;
}

export interface GcFreesResult {
  /** Per GC record, in the order they arrived (the order of model.gcs): bytes and allocations freed inside
   * it; NaN for a record without start_seq (a capture written before that field). */
  readonly bytes: Float64Array;
  readonly count: Float64Array;
  /** The seq of each of those GC records (to match model.gcs). */
  readonly seq: Float64Array;
  /** Collections that freed more than the ring held: their figures are lower bounds. */
  readonly incomplete: number;
  /** Bytes and allocations freed by collections, per allocating site. */
  readonly bySite: ReadonlyMap<SiteId, SiteFreed>;
}

export class GcFrees implements ReplayObserver {
  /** Reads no index. */
  readonly indexesFrom = Infinity;
  private readonly cap: number;
  // An entry is 6 bytes where it was 21 (then 13), as the ring is a few MiB of a report's peak memory: its
  // seq as the difference from the entry before it (the newest seq is kept, the ring is read from the
  // newest back) in 16 bits, its site's low 16 bits, its bytes' low 16 bits. The high parts come in arrays
  // made when a first value needs them (a site id of 2^16 or more: 16 bits more; for the bytes, 8 bits more
  // once more than BESIDE_BEFORE_HI frees of 64 KiB or more wait at once: until then they are kept in the
  // side map), which hold 0 for the entries written before. A value that still does not fit (a difference
  // of 2^16 or more or below 0, a size of 16 MiB or more, a fraction) is kept exactly in a side map by slot,
  // and so is a count other than 1 (a piece of an unmapped region, 0; a sampled allocation's weight).
  // Frees are close together in seq and small in nearly every program, so the maps stay small.
  private readonly deltas: Uint16Array;
  private readonly sitesLo: Uint16Array;
  private sitesHi: Uint16Array | undefined;
  private readonly bytesLo: Uint16Array;
  private bytesHi: Uint8Array | undefined;
  private readonly besideDelta = new Map<number, number>();
  private readonly besideBytes = new Map<number, number>();
  private readonly besideCount = new Map<number, number>();
  /** Index of the next write, and how many entries are valid (≤ cap). */
  private next = 0;
  private size = 0;
  /** The seqs of the newest and the oldest valid entry. */
  private newestSeq = 0;
  private oldestSeq = 0;
  /** The highest seq overwritten since the ring was last emptied (-1: none). */
  private droppedSeq = -1;
  private readonly perGc = { bytes: [] as number[], count: [] as number[], seq: [] as number[] };
  private incomplete = 0;
  private readonly bySite = new Map<SiteId, SiteFreed>();

  constructor(maxEntries = GC_RING_MAX) {
    // The whole ring at once: its pages become resident only as frees are written into them (from the
    // start after each collection), and a ring that grew by copies left its old arrays as garbage that
    // lived long enough to wait for a full collection (a few MiB of peak RSS on a big capture). The same
    // for the high parts, made whole when first needed.
    this.cap = maxEntries;
    this.deltas = new Uint16Array(this.cap);
    this.sitesLo = new Uint16Array(this.cap);
    this.bytesLo = new Uint16Array(this.cap);
  }

  change(site: SiteId, seq: number, bytes: number, count: number): void {
    if (bytes >= 0 && count >= 0) return;
    // The usual free, written small enough for V8 to inline it into the replay's free (one call per free
    // otherwise): the ring not full, each value within its low part, a count of 1.
    const i = this.next;
    const d = seq - this.newestSeq;
    const b = -bytes;
    if (this.size === this.cap || count !== -1 || d >>> 0 !== d || d >= DELTA_BESIDE || b >>> 0 !== b || b >= LO_BESIDE || site > 0xffff) {
      this.write(i, site, seq, d, b, count);
      return;
    }
    if (++this.size === 1) this.oldestSeq = seq;
    this.deltas[i] = d;
    this.newestSeq = seq;
    this.sitesLo[i] = site;
    if (this.sitesHi !== undefined) this.sitesHi[i] = 0;
    this.bytesLo[i] = b;
    if (this.bytesHi !== undefined) this.bytesHi[i] = 0;
    this.next = i + 1 === this.cap ? 0 : i + 1;
  }

  /** Any free at `i`, the next write (`d`: its seq minus the newest's, `b`: its bytes). */
  private write(i: number, site: SiteId, seq: number, d: number, b: number, count: number): void {
    if (this.size === this.cap) {
      // Full at its largest: the oldest entry (the one at `next`) goes; the one after it becomes the oldest.
      this.droppedSeq = Math.max(this.droppedSeq, this.oldestSeq);
      const j = i + 1 === this.cap ? 0 : i + 1;
      if (j !== i) this.oldestSeq += this.deltaAt(j);
      if (this.besideDelta.size > 0) this.besideDelta.delete(i);
      if (this.besideBytes.size > 0) this.besideBytes.delete(i);
      if (this.besideCount.size > 0) this.besideCount.delete(i);
    } else {
      this.size++;
    }
    if (this.size === 1) this.oldestSeq = seq;
    if (d >>> 0 === d && d < DELTA_BESIDE) this.deltas[i] = d;
    else {
      this.deltas[i] = DELTA_BESIDE;
      this.besideDelta.set(i, d);
    }
    this.newestSeq = seq;
    this.sitesLo[i] = site;
    if (site > 0xffff || this.sitesHi !== undefined) (this.sitesHi ??= new Uint16Array(this.cap))[i] = site >>> 16;
    let stored = b;
    if (b >>> 0 !== b || b >= BYTES_BESIDE) {
      stored = BYTES_BESIDE;
      this.besideBytes.set(i, b);
    } else if (b >= LO_BESIDE && this.bytesHi === undefined) {
      if (this.besideBytes.size < BESIDE_BEFORE_HI) {
        stored = BYTES_BESIDE;
        this.besideBytes.set(i, b);
      } else {
        // Too many to keep beside: the high parts from now on. The entries kept beside (LO_BESIDE in
        // `bytesLo`) read as BYTES_BESIDE with a high part of 0xff, and stay in the map.
        const hi = new Uint8Array(this.cap);
        for (const k of this.besideBytes.keys()) hi[k] = 0xff;
        this.bytesHi = hi;
      }
    }
    this.bytesLo[i] = stored;
    if (this.bytesHi !== undefined) this.bytesHi[i] = stored >>> 16;
    // -count is 1 for a free, 0 for a piece of an unmapped region, a weight in a sampled capture.
    if (count !== -1) this.besideCount.set(i, -count);
    this.next = i + 1 === this.cap ? 0 : i + 1;
  }

  private deltaAt(i: number): number {
    const d = this.deltas[i]!;
    return d !== DELTA_BESIDE ? d : (this.besideDelta.get(i) as number);
  }

  private bytesAt(i: number): number {
    const hi = this.bytesHi;
    const lo = this.bytesLo[i]!;
    const stored = hi === undefined ? (lo === LO_BESIDE ? BYTES_BESIDE : lo) : hi[i]! * 0x10000 + lo;
    return stored !== BYTES_BESIDE ? stored : (this.besideBytes.get(i) as number);
  }

  snapshot(): void {
    // Snapshots do not matter here.
  }

  gc(record: GcRecord): void {
    this.perGc.seq.push(record.seq);
    if (record.startSeq === undefined) {
      this.perGc.bytes.push(NaN);
      this.perGc.count.push(NaN);
    } else {
      let b = 0;
      let n = 0;
      const start = record.startSeq;
      let s = this.newestSeq;
      for (let k = 0, i = (this.next - 1 + this.cap) % this.cap; k < this.size; k++, s -= this.deltaAt(i), i = (i - 1 + this.cap) % this.cap) {
        if (s < start) break;
        if (s >= record.seq) continue;
        const hi = this.sitesHi;
        const site = (hi === undefined ? this.sitesLo[i]! : hi[i]! * 0x10000 + this.sitesLo[i]!) as SiteId;
        const bytes = this.bytesAt(i);
        const count = this.besideCount.size === 0 ? 1 : (this.besideCount.get(i) ?? 1);
        b += bytes;
        n += count;
        const f = this.bySite.get(site);
        if (f === undefined) this.bySite.set(site, { bytes, count });
        else {
          f.bytes += bytes;
          f.count += count;
        }
      }
      if (this.droppedSeq >= start) this.incomplete++;
      this.perGc.bytes.push(b);
      this.perGc.count.push(n);
    }
    // Collections do not overlap: nothing before this one can belong to a later one.
    this.size = 0;
    this.next = 0;
    this.droppedSeq = -1;
    this.besideDelta.clear();
    this.besideBytes.clear();
    this.besideCount.clear();
  }

  finish(): GcFreesResult {
    return {
      bytes: Float64Array.from(this.perGc.bytes),
      count: Float64Array.from(this.perGc.count),
      seq: Float64Array.from(this.perGc.seq),
      incomplete: this.incomplete,
      bySite: this.bySite,
    };
  }
}
