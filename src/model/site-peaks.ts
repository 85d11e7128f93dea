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
//
// The dense case: a program that builds up and exits (the commonest shape) frees nearly everything after its
// peak, at its teardown, so nearly every site gets a saved entry: lists of 20 bytes an entry with up to twice the
// room, then a copy and a table after the read, several times the 16 bytes a site of the columns they replaced
// (a tree of ~1 M sites: +120 MB over main). So each time the lists need room (never per event) PeakSaves takes
// the smaller of the lists and dense columns of every site (Float64 bytes and a count, 12 or 16 bytes a site, as main
// had): once dense, the lists are a small buffer spilled into the columns when full; a new peak clears every bit
// (O(sites / 32), paid for by the ~0.4 x sites saves that made it dense) and goes back to the lists. After the
// read SitePeaks takes the lists or columns over (no copy), and builds no table when dense (docs/benchmarks.md,
// round twenty-seven, "The dense case").

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

/** The first room of the lists (entries); they double from it. Also the room of the buffer when dense. */
const FIRST_ROOM = 1024;

/** Bytes of the lists with room for `saved` entries of values and `touched` ids. */
function listBytes(saved: number, touched: number): number {
  return saved * 20 + touched * 4;
}

/**
 * Bytes of dense columns for `sites` sites (Float64 bytes and a count of `countBytes`, 4 or 8), with their buffer
 * (the lists at their first room).
 */
function denseBytes(sites: number, countBytes: number): number {
  return sites * (8 + countBytes) + listBytes(FIRST_ROOM, FIRST_ROOM);
}

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
  /**
   * Dense (see the top of this file): every site's saved values by site, 0 for a site not saved (or saved with
   * nothing), the lists being a buffer spilled into them; empty when the lists hold the saved values.
   */
  private denseBytes: Float64Array = NO_VALUES;
  private denseCount: Float64Array | Int32Array = NO_VALUES;
  private dense = false;
  /**
   * The counts fit in Int32 (countsInInt32(): the replay's live counts are Int32, CountColumn, and a saved count
   * is a live one): the dense count column in 4 bytes a site, as main's peakCount was (12 bytes a site with the
   * bytes, not 16: the tree's 4.19 M sites, 17 MB less through summary's peak; round twenty-eight, peak28).
   */
  private int32Counts = false;
  /** The sites' room (ensureSites()): the dense columns' length. */
  private siteRoom = 0;

  /** The saved counts are integers below 2^31 from here (the replay's count columns turned Int32). */
  countsInInt32(): void {
    this.int32Counts = true;
  }

  /** The saved counts may be any double from here (the replay's count columns widened to Float64). */
  widenCounts(): void {
    this.int32Counts = false;
    if (this.denseCount instanceof Int32Array) this.denseCount = new Float64Array(this.denseCount);
  }

  /** Bits for `n` sites (the site columns' length: the replay calls this as they grow). */
  ensureSites(n: number): void {
    if (n > this.siteRoom) {
      this.siteRoom = n;
      if (this.dense) {
        this.denseBytes = widened(this.denseBytes, n);
        const count = this.denseCount;
        this.denseCount = count instanceof Int32Array ? widenedInt32(count, n) : widened(count, n);
      }
    }
    const words = (n + 31) >>> 5;
    if (words <= this.bits.length) return;
    const grown = new Int32Array(words);
    grown.set(this.bits);
    this.bits = grown;
  }

  /** `site`'s values at the peak, just before it first changes after the peak (its bit just set by the caller). */
  save(site: number, bytes: number, count: number): void {
    if (bytes !== 0 || count !== 0) {
      if (this.savedLength === this.savedSite.length) this.makeRoom(1);
      const n = this.savedLength;
      this.savedSite[n] = site;
      this.savedBytes[n] = bytes;
      this.savedCount[n] = count;
      this.savedLength = n + 1;
    } else {
      if (this.touchedLength === this.touched.length) this.makeTouchedRoom();
      const n = this.touchedLength;
      this.touched[n] = site;
      this.touchedLength = n + 1;
    }
  }

  /** Room for `k` more saved values (flushFrees writes an entry at every free, counting it only when due). */
  room(k: number): void {
    if (this.savedLength + k > this.savedSite.length) this.makeRoom(k);
  }

  /**
   * Room for `k` more saved values: the lists doubled, or, when they would then cost more than dense columns of
   * every site, dense columns (the lists spilled into them and made a small buffer); when dense, the buffer spilled.
   */
  private makeRoom(k: number): void {
    if (!this.dense) {
      let cap = Math.max(FIRST_ROOM, this.savedSite.length * 2);
      while (cap < this.savedLength + k) cap *= 2;
      if (listBytes(cap, this.touched.length) <= denseBytes(this.sitesListed(), this.int32Counts ? 4 : 8)) {
        this.growSaved(cap);
        return;
      }
      this.toDense();
    }
    this.spill();
    if (k > this.savedSite.length) this.growSaved(k);
  }

  /** Room in the list of the sites that held nothing at the peak (when dense, their columns' 0 says it: emptied). */
  private makeTouchedRoom(): void {
    if (this.dense) {
      this.touchedLength = 0;
      return;
    }
    const n = this.touchedLength;
    const cap = Math.max(FIRST_ROOM, this.touched.length * 2);
    if (listBytes(this.savedSite.length, cap) <= denseBytes(this.sitesListed(), this.int32Counts ? 4 : 8)) {
      this.touched = grown(this.touched, n + 1);
      return;
    }
    this.toDense();
  }

  /**
   * The dense columns' resident extent were they made now: 1 + the highest site listed. Their room is the site
   * columns' (ensureSites(), up to twice the sites), but pages never written are not resident (zeroed mappings),
   * as main's peak columns were not: the tree's 4.19 M sites in a room of 8.39 M cost 67 MB, not 134. A pass over
   * the lists, only when they need room (as often as they double).
   */
  private sitesListed(): number {
    let high = -1;
    const site = this.savedSite;
    for (let i = 0; i < this.savedLength; i++) if (site[i]! > high) high = site[i]!;
    const touched = this.touched;
    for (let i = 0; i < this.touchedLength; i++) if (touched[i]! > high) high = touched[i]!;
    return high + 1;
  }

  /** From the lists to dense columns: the saved values spilled into them, the lists made a buffer. */
  private toDense(): void {
    this.dense = true;
    this.denseBytes = new Float64Array(this.siteRoom);
    this.denseCount = this.int32Counts ? new Int32Array(this.siteRoom) : new Float64Array(this.siteRoom);
    this.spill();
    this.savedSite = new Int32Array(FIRST_ROOM);
    this.savedBytes = new Float64Array(FIRST_ROOM);
    this.savedCount = new Float64Array(FIRST_ROOM);
    this.touched = new Int32Array(FIRST_ROOM);
    this.touchedLength = 0;
  }

  /** Dense: the buffered saved values written into the columns (a site is listed once a peak). */
  private spill(): void {
    const site = this.savedSite;
    const bytes = this.denseBytes;
    const count = this.denseCount;
    for (let i = 0; i < this.savedLength; i++) {
      const s = site[i]!;
      bytes[s] = this.savedBytes[i]!;
      count[s] = this.savedCount[i]!;
    }
    this.savedLength = 0;
  }

  /** A new peak: no site changed since it. Every set bit is a listed site's, so their words are cleared whole. */
  nextPeak(): void {
    if (this.dense) {
      // Every site's bit may be set: cleared whole, and back to the lists (the columns dropped: a fresh 0 for
      // every site when dense again).
      this.bits.fill(0);
      this.dense = false;
      this.denseBytes = this.denseCount = NO_VALUES;
      this.touchedLength = this.savedLength = 0;
      return;
    }
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
    this.denseBytes = this.denseCount = NO_VALUES;
    this.dense = false;
    this.siteRoom = 0;
    this.touchedLength = this.savedLength = 0;
    return bytes;
  }

  get byteLength(): number {
    return this.bits.byteLength + this.touched.byteLength + this.savedSite.byteLength + this.savedBytes.byteLength + this.savedCount.byteLength + this.denseBytes.byteLength + this.denseCount.byteLength;
  }

  /**
   * The values at the peak of the `size` sites, as of now: the saved ones, and the live ones (read from `liveBytes`
   * and `liveCount` when asked, so the model must be read before the replay goes on, as the site columns are).
   * A copy, as the replay may go on; `final`: the replay is over, the saves are taken over (no copy) and given up.
   */
  peaks(size: number, liveBytes: LiveArray, liveCount: LiveArray, final = false): SitePeaks {
    const words = (size + 31) >>> 5;
    let peaks: SitePeaks;
    if (this.dense) {
      this.spill();
      const bits = final ? this.bits.subarray(0, words) : this.bits.slice(0, words);
      const bytes = final ? this.denseBytes : this.denseBytes.slice(0, size);
      const count = final ? this.denseCount : this.denseCount.slice(0, size);
      peaks = new SitePeaks(bits, NONE, NO_VALUES, NO_VALUES, 0, liveBytes, liveCount, bytes, count);
    } else if (final) {
      peaks = new SitePeaks(this.bits.subarray(0, words), this.savedSite, this.savedBytes, this.savedCount, this.savedLength, liveBytes, liveCount);
    } else {
      const n = this.savedLength;
      const bits = this.bits.slice(0, words);
      peaks = new SitePeaks(bits, this.savedSite.slice(0, n), this.savedBytes.slice(0, n), this.savedCount.slice(0, n), n, liveBytes, liveCount);
    }
    if (final) this.giveUp();
    return peaks;
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

/** `arr` in `n` values (the first ones kept). */
function widened(arr: Float64Array, n: number): Float64Array {
  const g = new Float64Array(n);
  g.set(arr);
  return g;
}

function widenedInt32(arr: Int32Array, n: number): Int32Array {
  const g = new Int32Array(n);
  g.set(arr);
  return g;
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
 * the peak), the others their live values. The saved values are a table of entries, or dense columns by site
 * (PeakSaves' dense case: no table).
 */
export class SitePeaks implements ReadonlySitePeaks {
  private readonly bits: Int32Array;
  /** An open-addressing table of the saved entries: 1 + entry index, 0 for an empty slot. */
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly site: Int32Array;
  private readonly savedBytes: Float64Array;
  private readonly savedCount: Float64Array;

  /** Dense: the saved values by site (empty otherwise: the table's entries). */
  private readonly dense: boolean;
  private readonly denseBytes: Float64Array;
  private readonly denseCount: Float64Array | Int32Array;

  /**
   * `n` entries of `site`, `bytes`, `count` for the sites whose bit is set in `bits`, or (`denseBytes` and
   * `denseCount` given, n = 0) those sites' values by site. All kept, not copied.
   */
  constructor(
    bits: Int32Array,
    site: Int32Array,
    bytes: Float64Array,
    count: Float64Array,
    n: number,
    private readonly liveBytes: LiveArray,
    private readonly liveCount: LiveArray,
    denseBytes: Float64Array = NO_VALUES,
    denseCount: Float64Array | Int32Array = NO_VALUES,
  ) {
    this.bits = bits;
    this.site = site;
    this.savedBytes = bytes;
    this.savedCount = count;
    this.dense = denseBytes !== NO_VALUES;
    this.denseBytes = denseBytes;
    this.denseCount = denseCount;
    let cap = this.dense ? 1 : 16;
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
    if (this.dense) return this.denseBytes[site]!;
    const i = this.find(site);
    return i < 0 ? 0 : this.savedBytes[i]!;
  }

  count(site: SiteId): number {
    if (!this.changed(site)) return site < this.liveCount.length ? this.liveCount[site]! : 0;
    if (this.dense) return this.denseCount[site]!;
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
        if (this.dense ? this.denseBytes[s] !== 0 || this.denseCount[s] !== 0 : this.find(s) >= 0) n++;
      } else if (s < live && (liveBytes[s] !== 0 || liveCount[s] !== 0)) n++;
    }
    const out = { site: new Int32Array(n), bytes: new Float64Array(n), count: new Float64Array(n), length: n };
    n = 0;
    for (let s = 0; s < size; s++) {
      const w = s >>> 5;
      if (w < bits.length && (bits[w]! & (1 << (s & 31))) !== 0) {
        if (this.dense) {
          // Dense: an entry is a non-zero value (the lists hold only those: PeakSaves.save()).
          if (this.denseBytes[s] === 0 && this.denseCount[s] === 0) continue;
          out.site[n] = s;
          out.bytes[n] = this.denseBytes[s]!;
          out.count[n] = this.denseCount[s]!;
          n++;
          continue;
        }
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
    // The buffers' whole length: the lists taken over keep their room.
    return this.bits.buffer.byteLength + this.slots.byteLength + this.site.byteLength + this.savedBytes.byteLength + this.savedCount.byteLength + this.denseBytes.byteLength + this.denseCount.byteLength;
  }
}

/** A site id's home slot (before the mask): Fibonacci hashing, the ids being dense. */
function homeOf(site: number): number {
  return Math.imul(site, 0x9e3779b1) >>> 7;
}
