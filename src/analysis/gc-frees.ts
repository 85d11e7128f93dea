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
 * Frees kept at most (4 bytes each; 2 more for each of the delta, the bytes and the site once many of its values
 * did not fit: 1–2.5 MiB). The ring holds the frees since the last collection, the oldest overwritten first,
 * so a collection is counted exactly unless it alone freed more than this.
 */
export const GC_RING_MAX = 1 << 18;

/**
 * Values that do not fit a field's low bits kept beside at once (in the field's map) before its high parts
 * are made (2 bytes an entry for the whole ring, where a Map of this many entries takes a few tens of KiB): most
 * programs free few such values between two collections, and an array is written whole as the ring wraps
 * (docs/benchmarks.md, "stats' peak, round thirteen").
 */
const BESIDE_BEFORE_HI = 1024;

/**
 * One of an entry's three values (the seq's difference from the entry before, the bytes, the site): its low
 * `bits` bits in the entry's word from `shift`, all ones there meaning "not here" (in `beside`, by slot). Once
 * more than BESIDE_BEFORE_HI wait beside, `hi` is made: 16 bits more, the value then hi · 2^bits + low, and
 * all ones in both "in `beside`" (the entries beside then get a high part of all ones).
 */
class Field {
  hi: Uint16Array | undefined;
  readonly beside = new Map<number, number>();
  /** All ones in the low bits. */
  readonly lowMark: number;
  /** All ones in the low and the high bits. */
  readonly mark: number;
  constructor(
    readonly shift: number,
    readonly bits: number,
  ) {
    this.lowMark = 2 ** bits - 1;
    this.mark = 2 ** (bits + 16) - 1;
  }

  /** The value of slot `i` whose word is `w`. */
  at(i: number, w: number): number {
    const low = (w >>> this.shift) & this.lowMark;
    const hi = this.hi;
    const stored = hi === undefined ? (low === this.lowMark ? this.mark : low) : hi[i]! * 2 ** this.bits + low;
    return stored !== this.mark ? stored : (this.beside.get(i) as number);
  }

  /** The low bits to store for `v` at slot `i` (the high ones stored, the value put beside if need be). */
  put(i: number, v: number, cap: number): number {
    let stored = v;
    if (v >>> 0 !== v || v >= (this.hi === undefined ? this.lowMark : this.mark)) {
      stored = this.mark;
      this.beside.set(i, v);
      if (this.hi === undefined && this.beside.size > BESIDE_BEFORE_HI) {
        // Too many to keep beside: the high parts from now on; those beside read as `mark` with all ones.
        const hi = new Uint16Array(cap);
        for (const k of this.beside.keys()) hi[k] = 0xffff;
        this.hi = hi;
      }
    }
    if (this.hi !== undefined) this.hi[i] = Math.floor(stored / 2 ** this.bits);
    return stored & this.lowMark;
  }

  /** Slot `i` is overwritten. */
  drop(i: number): void {
    this.beside.delete(i);
  }
}

/** The fields of an entry's word (bit 31 left 0: a small integer to V8). */
const DELTA_BITS = 7;
const BYTES_SHIFT = 7;
const BYTES_BITS = 12;
const SITE_SHIFT = 19;
const SITE_BITS = 12;
const DELTA_LOW_MARK = 2 ** DELTA_BITS - 1;
const BYTES_LOW_MARK = 2 ** BYTES_BITS - 1;
const SITE_LOW_MARK = 2 ** SITE_BITS - 1;

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
  // An entry is 4 bytes where it was 21 (then 13, then 6), as the ring is a few MiB of a report's peak memory:
  // one word of its seq as the difference from the entry before it (the newest seq is kept, the ring is read
  // from the newest back) in 7 bits, its bytes' low 12 bits and its site's low 12 (Field). Frees are close
  // together in seq, small and of few sites in most programs: on a 50 M-event capture of the benchmark's
  // workload every value fit (differences below 2^4, bytes below 2^10, sites below 2^6). The high parts come
  // in arrays made when many values need them, which hold 0 for the entries written before; a value that
  // still does not fit (a difference below 0, a size of 2^28 or more, a fraction) is kept exactly in the
  // field's map by slot, and so is a count other than 1 (a piece of an unmapped region, 0; a sampled
  // allocation's weight).
  private readonly words: Uint32Array;
  private readonly delta = new Field(0, DELTA_BITS);
  private readonly bytes = new Field(BYTES_SHIFT, BYTES_BITS);
  private readonly site = new Field(SITE_SHIFT, SITE_BITS);
  /** Whether a field has its high parts (each write then sets them; zeroHigh() on the usual path, a call). */
  private hi = false;
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
    this.words = new Uint32Array(this.cap);
  }

  change(site: SiteId, seq: number, bytes: number, count: number): void {
    if (bytes >= 0 && count >= 0) return;
    // The usual free, written small enough for V8 to inline it into the replay's free (one call per free
    // otherwise): the ring not full, each value within its low bits, a count of 1.
    const i = this.next;
    const d = seq - this.newestSeq;
    const b = -bytes;
    if (this.size === this.cap || count !== -1 || d >>> 0 !== d || d >= DELTA_LOW_MARK || b >>> 0 !== b || b >= BYTES_LOW_MARK || site >= SITE_LOW_MARK) {
      this.write(i, site, seq, d, b, count);
      return;
    }
    if (++this.size === 1) this.oldestSeq = seq;
    this.words[i] = d | (b << BYTES_SHIFT) | (site << SITE_SHIFT);
    if (this.hi) this.zeroHigh(i);
    this.newestSeq = seq;
    this.next = i + 1 === this.cap ? 0 : i + 1;
  }

  /** Any free at `i`, the next write (`d`: its seq minus the newest's, `b`: its bytes). */
  private write(i: number, site: SiteId, seq: number, d: number, b: number, count: number): void {
    if (this.size === this.cap) {
      // Full at its largest (most frees of a program that frees more than the ring holds between two
      // collections): the oldest entry (the one at `next`) goes; the one after it becomes the oldest.
      this.droppedSeq = Math.max(this.droppedSeq, this.oldestSeq);
      const j = i + 1 === this.cap ? 0 : i + 1;
      if (j !== i) this.oldestSeq += this.deltaAt(j);
      if (this.delta.beside.size > 0) this.delta.drop(i);
      if (this.bytes.beside.size > 0) this.bytes.drop(i);
      if (this.site.beside.size > 0) this.site.drop(i);
      if (this.besideCount.size > 0) this.besideCount.delete(i);
    } else {
      this.size++;
    }
    if (this.size === 1) this.oldestSeq = seq;
    this.newestSeq = seq;
    if (count === -1 && !this.hi && d >>> 0 === d && d < DELTA_LOW_MARK && b >>> 0 === b && b < BYTES_LOW_MARK && site < SITE_LOW_MARK) {
      this.words[i] = d | (b << BYTES_SHIFT) | (site << SITE_SHIFT);
    } else {
      this.words[i] = this.delta.put(i, d, this.cap) | (this.bytes.put(i, b, this.cap) << BYTES_SHIFT) | (this.site.put(i, site, this.cap) << SITE_SHIFT);
      this.hi = this.delta.hi !== undefined || this.bytes.hi !== undefined || this.site.hi !== undefined;
      // -count is 1 for a free, 0 for a piece of an unmapped region, a weight in a sampled capture.
      if (count !== -1) this.besideCount.set(i, -count);
    }
    this.next = i + 1 === this.cap ? 0 : i + 1;
  }

  /** The high parts of slot `i`, where there are, to 0 (its values fit their low bits). */
  private zeroHigh(i: number): void {
    if (this.delta.hi !== undefined) this.delta.hi[i] = 0;
    if (this.bytes.hi !== undefined) this.bytes.hi[i] = 0;
    if (this.site.hi !== undefined) this.site.hi[i] = 0;
  }

  private deltaAt(i: number): number {
    const w = this.words[i]!;
    const low = w & DELTA_LOW_MARK;
    return low !== DELTA_LOW_MARK && this.delta.hi === undefined ? low : this.delta.at(i, w);
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
        const w = this.words[i]!;
        const site = this.site.at(i, w) as SiteId;
        const bytes = this.bytes.at(i, w);
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
    this.delta.beside.clear();
    this.bytes.beside.clear();
    this.site.beside.clear();
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
