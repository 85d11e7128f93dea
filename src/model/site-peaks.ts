// The sites' values at the peak (the high-water mark), stored only where they differ from the live ones.
//
// A site not changed since the latest peak has its live value as its value at the peak. The replay (heap-replay.ts)
// saves a site's live value just before the site first changes after the peak, and a new peak makes every saved
// value stale. Until round twenty-seven the saved values were columns of every site (peakCount, peakBytes) with a
// mark per site saying at which peak they were saved: 16 bytes a site held through the whole read (call_sites:
// 2.62 M sites, 42 MiB on the read's plateau, summary's and verdict's peak; docs/benchmarks.md, round twenty-six).
// Now (PeakSaves) a bit per site says "changed since the latest peak", and the sites changed are listed: those
// live at the peak with their saved values (20 bytes each), the others with their id alone (4 bytes; their value
// at the peak is 0). A new peak clears the bits of the listed sites and empties the lists: each entry is cleared
// once, so the cost stays O(1) per event. After the read (SitePeaks) the saved values are looked up by site in a
// small hash table, the other sites read their live value.

import type { SiteId } from './ids.js';

/** The values at the peak, as the model hands them to analyses. */
export interface ReadonlySitePeaks {
  /** Bytes of `site` live at the peak. */
  bytes(site: SiteId): number;
  /** Allocations of `site` live at the peak. */
  count(site: SiteId): number;
  /** The sites below `size` with a non-zero value at the peak (bytes or count), in site order, with their values. */
  nonzero(size: number): PeakAmounts;
  /** Bytes held (for the memory figures in benchmarks). */
  readonly byteLength: number;
}

/** Sites and their values at the peak, index i of each column for the same site. */
export interface PeakAmounts {
  readonly site: Int32Array;
  readonly bytes: Float64Array;
  readonly count: Float64Array;
  readonly length: number;
}

/** The live columns the values at the peak fall back on: Float64 or Int32 counts (CountColumn). */
type LiveArray = ArrayLike<number>;

const NONE = new Int32Array(0);
const NO_VALUES = new Float64Array(0);

/** The first room of the lists (entries); they double from it. */
const FIRST_ROOM = 1024;

/**
 * The replay's record of the sites changed since the latest peak (see the top of this file). `bits`, `touched`
 * and the saved lists are fields read by the replay's hot path (allocAt, freeAt, flushFrees): it tests and sets a
 * site's bit itself, and calls save() only for a site not changed since the peak.
 */
export class PeakSaves {
  /** A bit per site: changed since the latest peak. Word `site >>> 5`, bit `site & 31`. */
  bits: Int32Array = NONE;
  /** Sites changed since the latest peak that held nothing at it (their value at the peak is 0). */
  touched: Int32Array = NONE;
  touchedLength = 0;
  /** Sites changed since the latest peak that held something at it, and their values then. */
  savedSite: Int32Array = NONE;
  savedBytes: Float64Array = NO_VALUES;
  savedCount: Float64Array = NO_VALUES;
  savedLength = 0;

  /** Bits for `n` sites (the site columns' length: the replay calls this as they grow). */
  ensureSites(n: number): void {
    const words = (n + 31) >>> 5;
    if (words <= this.bits.length) return;
    const grown = new Int32Array(words);
    grown.set(this.bits);
    this.bits = grown;
  }

  /** `site`'s values at the peak, just before it first changes after the peak (its bit just set by the caller). */
  save(site: number, bytes: number, count: number): void {
    if (bytes !== 0 || count !== 0) {
      const n = this.savedLength;
      if (n === this.savedSite.length) this.growSaved(n + 1);
      this.savedSite[n] = site;
      this.savedBytes[n] = bytes;
      this.savedCount[n] = count;
      this.savedLength = n + 1;
    } else {
      const n = this.touchedLength;
      if (n === this.touched.length) this.touched = grown(this.touched, n + 1);
      this.touched[n] = site;
      this.touchedLength = n + 1;
    }
  }

  /** Room for `k` more saved values (flushFrees writes an entry at every free, counting it only when due). */
  room(k: number): void {
    if (this.savedLength + k > this.savedSite.length) this.growSaved(this.savedLength + k);
  }

  /** A new peak: no site changed since it. Every set bit is a listed site's, so their words are cleared whole. */
  nextPeak(): void {
    if (this.touchedLength === 0 && this.savedLength === 0) return;
    const bits = this.bits;
    const touched = this.touched;
    for (let i = 0; i < this.touchedLength; i++) bits[touched[i]! >>> 5] = 0;
    const saved = this.savedSite;
    for (let i = 0; i < this.savedLength; i++) bits[saved[i]! >>> 5] = 0;
    this.touchedLength = 0;
    this.savedLength = 0;
  }

  /** Everything given up (the read is over: HeapReplay.endOfRead()). */
  giveUp(): number {
    const bytes = this.byteLength;
    this.bits = NONE;
    this.touched = NONE;
    this.savedSite = NONE;
    this.savedBytes = NO_VALUES;
    this.savedCount = NO_VALUES;
    this.touchedLength = this.savedLength = 0;
    return bytes;
  }

  get byteLength(): number {
    return this.bits.byteLength + this.touched.byteLength + this.savedSite.byteLength + this.savedBytes.byteLength + this.savedCount.byteLength;
  }

  /**
   * The values at the peak of the `size` sites, as of now: the saved ones, and the live ones (read from `liveBytes`
   * and `liveCount` when asked, so the model must be read before the replay goes on, as the site columns are).
   * A copy: the replay may go on.
   */
  peaks(size: number, liveBytes: LiveArray, liveCount: LiveArray): SitePeaks {
    return new SitePeaks(this.bits.slice(0, (size + 31) >>> 5), this.savedSite, this.savedBytes, this.savedCount, this.savedLength, liveBytes, liveCount);
  }

  private growSaved(n: number): void {
    this.savedSite = grown(this.savedSite, n);
    const cap = this.savedSite.length;
    const bytes = new Float64Array(cap);
    bytes.set(this.savedBytes);
    this.savedBytes = bytes;
    const count = new Float64Array(cap);
    count.set(this.savedCount);
    this.savedCount = count;
  }
}

function grown(arr: Int32Array, n: number): Int32Array {
  let cap = Math.max(FIRST_ROOM, arr.length * 2);
  while (cap < n) cap *= 2;
  const g = new Int32Array(cap);
  g.set(arr);
  return g;
}

/**
 * The values at the peak after the replay (PeakSaves.peaks()), or of an aggregated capture (aggregated.ts, every
 * site's value saved). A site whose bit is set reads its saved values (0 if none was saved: it held nothing at
 * the peak), the others their live values.
 */
export class SitePeaks implements ReadonlySitePeaks {
  private readonly bits: Int32Array;
  /** An open-addressing table of the saved entries: 1 + entry index, 0 for an empty slot. */
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly site: Int32Array;
  private readonly savedBytes: Float64Array;
  private readonly savedCount: Float64Array;

  /** `n` entries of `site`, `bytes`, `count` (copied) for the sites whose bit is set in `bits` (kept). */
  constructor(
    bits: Int32Array,
    site: Int32Array,
    bytes: Float64Array,
    count: Float64Array,
    n: number,
    private readonly liveBytes: LiveArray,
    private readonly liveCount: LiveArray,
  ) {
    this.bits = bits;
    this.site = site.slice(0, n);
    this.savedBytes = bytes.slice(0, n);
    this.savedCount = count.slice(0, n);
    let cap = 16;
    while (cap < n * 2) cap *= 2;
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
    for (let i = 0; i < n; i++) {
      let slot = homeOf(this.site[i]!) & this.mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
      this.slots[slot] = i + 1;
    }
  }

  /** No peak: every site's values at it are 0. */
  static none(): SitePeaks {
    return new SitePeaks(NONE, NONE, NO_VALUES, NO_VALUES, 0, NO_VALUES, NO_VALUES);
  }

  /** Index of `site`'s saved entry, or -1. */
  private find(site: number): number {
    const slots = this.slots;
    const mask = this.mask;
    let slot = homeOf(site) & mask;
    for (;;) {
      const e = slots[slot]!;
      if (e === 0) return -1;
      if (this.site[e - 1] === site) return e - 1;
      slot = (slot + 1) & mask;
    }
  }

  private changed(site: number): boolean {
    const w = site >>> 5;
    return w < this.bits.length && (this.bits[w]! & (1 << (site & 31))) !== 0;
  }

  bytes(site: SiteId): number {
    if (!this.changed(site)) return site < this.liveBytes.length ? this.liveBytes[site]! : 0;
    const i = this.find(site);
    return i < 0 ? 0 : this.savedBytes[i]!;
  }

  count(site: SiteId): number {
    if (!this.changed(site)) return site < this.liveCount.length ? this.liveCount[site]! : 0;
    const i = this.find(site);
    return i < 0 ? 0 : this.savedCount[i]!;
  }

  nonzero(size: number): PeakAmounts {
    const bits = this.bits;
    const liveBytes = this.liveBytes;
    const liveCount = this.liveCount;
    const live = Math.min(size, liveBytes.length, liveCount.length);
    let n = 0;
    for (let s = 0; s < size; s++) {
      const w = s >>> 5;
      if (w < bits.length && (bits[w]! & (1 << (s & 31))) !== 0) {
        if (this.find(s) >= 0) n++;
      } else if (s < live && (liveBytes[s] !== 0 || liveCount[s] !== 0)) n++;
    }
    const out = { site: new Int32Array(n), bytes: new Float64Array(n), count: new Float64Array(n), length: n };
    n = 0;
    for (let s = 0; s < size; s++) {
      const w = s >>> 5;
      if (w < bits.length && (bits[w]! & (1 << (s & 31))) !== 0) {
        const i = this.find(s);
        if (i < 0) continue;
        out.site[n] = s;
        out.bytes[n] = this.savedBytes[i]!;
        out.count[n] = this.savedCount[i]!;
        n++;
      } else if (s < live && (liveBytes[s] !== 0 || liveCount[s] !== 0)) {
        out.site[n] = s;
        out.bytes[n] = liveBytes[s]!;
        out.count[n] = liveCount[s]!;
        n++;
      }
    }
    return out;
  }

  get byteLength(): number {
    return this.bits.byteLength + this.slots.byteLength + this.site.byteLength + this.savedBytes.byteLength + this.savedCount.byteLength;
  }
}

/** A site id's home slot (before the mask): Fibonacci hashing, the ids being dense. */
function homeOf(site: number): number {
  return Math.imul(site, 0x9e3779b1) >>> 7;
}
