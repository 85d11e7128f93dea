// Memory freed by the cyclic garbage collector: the frees whose seq falls inside [start_seq, seq) of a GC
// record (the agent takes start_seq when the collection starts). Reference counting frees everything
// else, so these are the cycles the collector found, and the sites that allocated them.
//
// A GC record reaches the replay right after the events with a lower seq, so the collection's frees were
// the last ones seen: they wait in a ring of recent frees, which each GC record empties (collections
// never overlap: CPython runs one at a time). A collection that freed more than the ring holds is counted
// as incomplete (its figures are then lower bounds).
//
// Since 2026-12-05 the agent also writes a GC_START record when a collection starts: once one was seen,
// the ring keeps only the frees between a GC_START and its GC record (a few hundred on the benchmark's
// workload, where up to half a million frees come between two collections), and it grows by need. Since
// round sixteen the header says so too (options bit 32, hasGcStartRecords()): then the ring keeps only
// collections' frees from the first record on, where it kept every free before the first collection (a
// program that runs long with the collector disabled filled the whole ring, 2^18 entries, for nothing).
// And since round sixteen's agent a young collection that starts fewer than GC_START_GAP seqs after the
// previous GC record has no GC_START (a program that collects every few dozen events paid one record per
// collection, a third of a small capture): with the bit, the ring also keeps every free of the
// GC_THIN_WINDOW seqs after each GC record, where such a collection's frees are (one that frees past the
// window is counted incomplete). A capture without GC_START records (older agents) keeps every free since the
// last collection, as before, and so does a capture of round fifteen's agent until its first GC_START
// (nothing in its header says; it wrote one at every collection).
// A free dropped outside a collection whose seq turns out to be inside the next one (a GC_START missing,
// or delivered after a free of its collection) makes that collection incomplete, as an overwritten one does.

import { GC_THIN_WINDOW } from '../capture/format.js';
import { hasGcStartRecords } from '../capture/header.js';
import type { CaptureHeader, GcRecord } from '../capture/records.js';
import type { SiteId } from '../model/ids.js';
import type { ReplayObserver } from '../model/replay-observer.js';

/**
 * Frees kept at most (6 bytes each, 7 once many frees of 64 KiB or more were kept, 9 once a site id of 2^16 or
 * more was: 1.5–2.3 MiB). The ring holds the frees since the last collection (with GC_START records: since the
 * collection's start), the oldest overwritten first, so a collection is counted exactly unless it alone
 * freed more than this.
 */
export const GC_RING_MAX = 1 << 18;

/** The ring's first length (6 KiB); it doubles when full, up to its cap (without GC_START: to the cap at once). */
export const GC_RING_FIRST = 1 << 10;

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
  /** The arrays' length: grows by need up to `cap`. */
  private len: number;
  // An entry is 6 bytes where it was 21 (then 13), as the ring is a few MiB of a report's peak memory: its
  // seq as the difference from the entry before it (the newest seq is kept, the ring is read from the
  // newest back) in 16 bits, its site's low 16 bits, its bytes' low 16 bits. The high parts come in arrays
  // made when a first value needs them (a site id of 2^16 or more: 16 bits more; for the bytes, 8 bits more
  // once more than BESIDE_BEFORE_HI frees of 64 KiB or more wait at once: until then they are kept in the
  // side map), which hold 0 for the entries written before. A value that still does not fit (a difference
  // of 2^16 or more or below 0, a size of 16 MiB or more, a fraction) is kept exactly in a side map by slot,
  // and so is a count other than 1 (a piece of an unmapped region, 0; a sampled allocation's weight).
  // Frees are close together in seq and small in nearly every program, so the maps stay small.
  private deltas: Uint16Array;
  private sitesLo: Uint16Array;
  private sitesHi: Uint16Array | undefined;
  private bytesLo: Uint16Array;
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
  /** The highest seq overwritten (or, with GC_START records, not kept) since the last GC record (-1: none). */
  private droppedSeq = -1;
  /** A GC_START record was seen, or the header says they come: frees are kept only inside a collection from then on. */
  private starts = false;
  /** The header says young collections close to the last one have no GC_START (see the top). */
  private thin = false;
  /**
   * Frees with this seq or higher are not kept: Infinity inside a collection (and without GC_START records);
   * with `starts`, between a GC record and the next GC_START, -Infinity (none kept) or the end of the window
   * after the GC record (`thin`). A double from the start: it holds seqs past 2^30.
   */
  private keepBelow = Infinity;
  /** Entries written, over the whole replay (tests: what the ring cost). */
  written = 0;
  private readonly perGc = { bytes: [] as number[], count: [] as number[], seq: [] as number[] };
  private incomplete = 0;
  private readonly bySite = new Map<SiteId, SiteFreed>();

  constructor(maxEntries = GC_RING_MAX) {
    // A small ring first. Without GC_START records it goes to its cap at its first overflow, as the whole
    // ring was made before: its pages become resident only as frees are written into them (from the start
    // after each collection), and a ring that grew by doublings left its old arrays as garbage that lived
    // long enough to wait for a full collection (a few MiB of peak RSS on a big capture). With them it holds
    // one collection's frees and doubles by need (its garbage a few KiB). The high parts are made at the
    // ring's length when first needed, and grow with it.
    this.cap = maxEntries;
    this.len = Math.min(this.cap, GC_RING_FIRST);
    this.deltas = new Uint16Array(this.len);
    this.sitesLo = new Uint16Array(this.len);
    this.bytesLo = new Uint16Array(this.len);
  }

  change(site: SiteId, seq: number, bytes: number, count: number): void {
    if (bytes >= 0 && count >= 0) return;
    if (seq >= this.keepBelow) {
      // Outside a collection: not kept, but a GC record whose start_seq is at most this seq is incomplete.
      if (seq > this.droppedSeq) this.droppedSeq = seq;
      return;
    }
    // The usual free, written small enough for V8 to inline it into the replay's free (one call per free
    // otherwise): the ring not full, each value within its low part, a count of 1.
    const i = this.next;
    const d = seq - this.newestSeq;
    const b = -bytes;
    // A site id of 2^16 or more once the high parts exist stays here too (call_sites: 0.91 M of the 1.0 M frees kept in
    // its first 16 M events went through write() for their site ids, docs/benchmarks.md, round thirty-two).
    const hi = this.sitesHi;
    if (this.size === this.len || count !== -1 || d >>> 0 !== d || d >= DELTA_BESIDE || b >>> 0 !== b || b >= LO_BESIDE || (site > 0xffff && hi === undefined)) {
      this.write(i, site, seq, d, b, count);
      return;
    }
    if (++this.size === 1) this.oldestSeq = seq;
    this.deltas[i] = d;
    this.newestSeq = seq;
    this.sitesLo[i] = site;
    if (hi !== undefined) hi[i] = site >>> 16;
    this.bytesLo[i] = b;
    if (this.bytesHi !== undefined) this.bytesHi[i] = 0;
    this.written++;
    this.next = i + 1 === this.cap ? 0 : i + 1; // below the cap, `len`: the next write grows the ring
  }

  /** Any free at `i`, the next write (`d`: its seq minus the newest's, `b`: its bytes). */
  private write(i: number, site: SiteId, seq: number, d: number, b: number, count: number): void {
    // The ring is written from index 0 after each GC record (and GC_START) and wraps only at its cap, so
    // below the cap a full ring holds its entries in order from 0 and `i` is its length.
    if (this.size === this.len && this.len < this.cap) this.grow(this.starts ? Math.min(this.cap, this.len * 2) : this.cap);
    if (this.size === this.len) {
      // Full at its largest: the oldest entry (the one at `next`) goes; the one after it becomes the oldest.
      this.droppedSeq = Math.max(this.droppedSeq, this.oldestSeq);
      const j = i + 1 === this.len ? 0 : i + 1;
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
    if (site > 0xffff || this.sitesHi !== undefined) (this.sitesHi ??= new Uint16Array(this.len))[i] = site >>> 16;
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
        const hi = new Uint8Array(this.len);
        for (const k of this.besideBytes.keys()) hi[k] = 0xff;
        this.bytesHi = hi;
      }
    }
    this.bytesLo[i] = stored;
    if (this.bytesHi !== undefined) this.bytesHi[i] = stored >>> 16;
    // -count is 1 for a free, 0 for a piece of an unmapped region, a weight in a sampled capture.
    if (count !== -1) this.besideCount.set(i, -count);
    this.written++;
    this.next = i + 1 === this.cap ? 0 : i + 1; // below the cap, `len`: the next write grows the ring
  }

  /** The arrays at `n` entries (more than `len`), the entries kept at the same indexes. */
  private grow(n: number): void {
    const widen = <T extends Uint16Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.deltas = widen(this.deltas, (k) => new Uint16Array(k));
    this.sitesLo = widen(this.sitesLo, (k) => new Uint16Array(k));
    this.bytesLo = widen(this.bytesLo, (k) => new Uint16Array(k));
    if (this.sitesHi !== undefined) this.sitesHi = widen(this.sitesHi, (k) => new Uint16Array(k));
    if (this.bytesHi !== undefined) this.bytesHi = widen(this.bytesHi, (k) => new Uint8Array(k));
    this.len = n;
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

  /** The capture's header: one whose options say GC_START records come keeps no free outside a collection and its window. */
  header(h: CaptureHeader): void {
    if (!hasGcStartRecords(h) || this.starts || this.size > 0) return;
    this.starts = true;
    this.thin = true;
    // Nothing before the first collection: the agent writes its GC_START whatever its generation.
    this.keepBelow = -Infinity;
  }

  /** A GC_START record: a collection starts at `seq`; what was kept before it is not its own. */
  gcStart(seq: number): void {
    this.starts = true;
    this.keepBelow = Infinity;
    // Frees of this collection seen before its GC_START (none when the records come in order) are not kept.
    if (this.size > 0 && this.newestSeq >= seq) this.droppedSeq = Math.max(this.droppedSeq, this.newestSeq);
    this.empty();
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
      for (let k = 0, i = (this.next - 1 + this.len) % this.len; k < this.size; k++, s -= this.deltaAt(i), i = (i - 1 + this.len) % this.len) {
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
    this.empty();
    this.droppedSeq = -1;
    this.keepBelow = this.thin ? record.seq + GC_THIN_WINDOW : this.starts ? -Infinity : Infinity;
  }

  private empty(): void {
    this.size = 0;
    this.next = 0;
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
