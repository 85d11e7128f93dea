// The allocations live right now, keyed by address: an open-addressing hash table in typed arrays.
//
// This is the main memory cost of reading a capture (millions of live allocations in a big process), so
// an entry is 12 bytes at a load factor of at most 0.7, instead of a Map entry plus an object (~150 bytes).
// An entry is three uint32 words side by side in one array (a look-up that finds its address has the size
// and site in the same cache line): the address over 8, low 32 bits; the size; and the address over 8's
// high bits (12: addresses below 2^47, all of a 64-bit Linux process's user space) with the site (20 bits)
// in the third. 16 bytes before (the address as a double, size and site as uint32): 8 MiB instead of 6 for
// the 2^19 slots of a 50 M-event capture's 240 000 live allocations (docs/benchmarks.md, round twelve).
// An address that does not fit that (not a multiple of 8, 2^47 or more) is kept exactly in a Map beside
// the table with all its values, as is a site of 2^20 − 2 or more; allocators return addresses aligned to
// at least 8 bytes, so on real captures these maps stay empty. The allocation's index (its number among
// its thread's allocations) costs 4 more bytes per entry, and only when the reader needs it for every
// allocation (`indexesFrom` 0); otherwise it is kept beside the table for the few allocations of at least
// `indexesFrom` bytes, or not at all. Values that do not fit 32 bits (a size of 4 GiB or more, the index
// of a thread's 2^32-th allocation) are kept exactly beside the table as well. Deletion shifts later
// entries of the probe run back (no tombstones), so a table that sees billions of events does not fill
// up with dead slots.
//
// A big table doubles in place. Its arrays are made once for many more slots than it uses (RESERVED_SLOTS),
// and only the first `mask + 1` are used: the rest stays untouched, so the system gives it no memory (an
// array that big is mapped by malloc, whose fresh pages are zero without being written). Doubling then
// moves each entry within the arrays it is in, instead of copying them into new arrays twice as big beside
// the old ones: at the last doubling of a report's table (4 MiB used, 8 MiB after) the process held 12 MiB
// at once, the highest moment of its memory (docs/benchmarks.md, "Report memory, round seven").

import type { SiteId } from './ids.js';
import { outgrown } from '../util/outgrown.js';

/** In the uint32 columns: the value is in the side map (or, for an index, was not kept). */
const BESIDE = 0xffffffff;
/** 2^35: an address's high word, over 8 (the address over 8's bits above its low 32). */
const TWO_35 = 34359738368;
/** 2^-35, exactly: a multiplication by it is exact, and quicker than a division by TWO_35. */
const ONE_35TH = 1 / TWO_35;
/** The address's high word: the third word's low 12 bits, at most MAX_HIGH (addresses below 2^47). */
const HIGH_BITS = 12;
const MAX_HIGH = (1 << HIGH_BITS) - 1;
/**
 * The third word's high 20 bits: the site + 1 (never 0, so a third word of 0 is an empty slot), or SITE_BESIDE
 * for a site kept in the side map. High rather than low: the word stays below 2^31 (a small integer to V8)
 * for the first 2^19 sites.
 */
const SITE_BESIDE = (1 << 20) - 1;
/** A table reaching this many slots moves into arrays reserved for RESERVED_SLOTS (below it, exact arrays). */
const IN_PLACE_FROM = 1 << 17;
/**
 * Slots of the arrays a big table doubles in (virtual memory: 96 MiB of entries, 32 MiB of indexes, none
 * of it resident until used). 32 MiB or more so that malloc maps each array rather than taking it from its
 * heap (where calloc would write the zeros: glibc raises its mmap threshold up to 32 MiB). A table past it
 * moves into arrays four times its size, and doubles in place twice more.
 */
const RESERVED_SLOTS = 1 << 23;

export interface LiveTableOptions {
  /**
   * Keep the index of allocations of at least this many bytes (default 0: every allocation's;
   * Infinity: none). The others are removed with removedIndex 0.
   */
  readonly indexesFrom?: number;
}

/** An allocation at an address the table's entries cannot hold (see the top), with all its values. */
interface OddEntry {
  size: number;
  site: SiteId;
  index: number;
}

/** The slot a key hashes to: hashAddress (tuple-interner.ts) of the address `high` · 2^35 + `low` · 8. */
function home(low: number, high: number): number {
  let h = Math.imul(low, 0x9e3779b1) ^ Math.imul((high << 3) | (low >>> 29), 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h;
}

export class LiveTable {
  /** Entry i: the address over 8's low word at words[3i], the size at words[3i + 1], high word and site at words[3i + 2]. */
  private words: Uint32Array;
  /** Present when every allocation's index is kept (indexesFrom 0). */
  private indexes: Uint32Array | undefined;
  private readonly indexesFrom: number;
  /** Sizes of 2^32 − 1 bytes or more, by address. */
  private readonly bigSizes = new Map<number, number>();
  /** Indexes that are kept but not in `indexes` (too big for it, or indexesFrom > 0), by address. */
  private readonly besideIndexes = new Map<number, number>();
  /** Sites of SITE_BESIDE − 1 or more, by address. */
  private readonly besideSites = new Map<number, number>();
  /** Allocations at addresses that no entry can hold (see the top), by address. */
  private readonly odd = new Map<number, OddEntry>();
  /** Slots in use − 1 (the arrays may hold more: see RESERVED_SLOTS). */
  private mask: number;
  /** Entries in the table (`odd` holds the others). */
  private count = 0;
  // What remove() found, read by the caller right after it (no object per call on the hot path).
  removedSize = 0;
  removedSite = 0 as SiteId;
  removedIndex = 0;

  constructor(initialCapacity = 1 << 16, options: LiveTableOptions = {}) {
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.indexesFrom = options.indexesFrom ?? 0;
    [this.words, this.indexes] = newArrays(cap, this.indexesFrom === 0);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count + this.odd.size;
  }

  /** The bytes of the slots in use (the arrays reserved for a big table are larger, and not resident beyond them). */
  get byteLength(): number {
    return (this.mask + 1) * (this.indexes !== undefined ? 16 : 12);
  }

  has(address: number): boolean {
    const low = (address * 0.125) >>> 0;
    const high = (address * ONE_35TH) >>> 0;
    if (high > MAX_HIGH || high * TWO_35 + low * 8 !== address) return this.odd.has(address);
    return this.find(low, high) >= 0;
  }

  /** Adds an allocation; the caller has checked that `address` is not live. */
  insert(address: number, size: number, site: SiteId, index: number): void {
    const low = (address * 0.125) >>> 0;
    const high = (address * ONE_35TH) >>> 0;
    if (high > MAX_HIGH || high * TWO_35 + low * 8 !== address) {
      this.odd.set(address, { size, site, index: this.keptIndex(size, index) });
      return;
    }
    if ((this.count + 1) * 10 > (this.mask + 1) * 7) outgrown(this.grow());
    const words = this.words;
    const mask = this.mask;
    let slot = home(low, high) & mask;
    while (words[slot * 3 + 2] !== 0) slot = (slot + 1) & mask;
    this.put(slot, low, high, size, site, index);
    this.count++;
  }

  /**
   * Adds an allocation at `address`, replacing the one live there if any (then true, and removedSize/Site/
   * Index describe the replaced one). One probe instead of remove() then insert().
   */
  insertOrReplace(address: number, size: number, site: SiteId, index: number): boolean {
    const low = (address * 0.125) >>> 0;
    const high = (address * ONE_35TH) >>> 0;
    if (high > MAX_HIGH || high * TWO_35 + low * 8 !== address) return this.oddInsertOrReplace(address, size, site, index);
    if ((this.count + 1) * 10 > (this.mask + 1) * 7) outgrown(this.grow());
    const words = this.words;
    const mask = this.mask;
    let slot = home(low, high) & mask;
    for (;;) {
      const w = words[slot * 3 + 2]!;
      if (w === 0) break;
      if (words[slot * 3] === low && (w & MAX_HIGH) === high) {
        this.take(slot);
        this.put(slot, low, high, size, site, index);
        return true;
      }
      slot = (slot + 1) & mask;
    }
    this.put(slot, low, high, size, site, index);
    this.count++;
    return false;
  }

  /** Removes the allocation at `address`; false if none. On success removedSize/Site/Index describe it. */
  remove(address: number): boolean {
    const low = (address * 0.125) >>> 0;
    const high = (address * ONE_35TH) >>> 0;
    if (high > MAX_HIGH || high * TWO_35 + low * 8 !== address) return this.oddRemove(address);
    let slot = this.find(low, high);
    if (slot < 0) return false;
    this.take(slot);
    this.count--;
    // Backward-shift deletion: move later members of the probe run into the hole when their home slot
    // does not lie cyclically in (hole, current].
    const mask = this.mask;
    const words = this.words;
    const indexes = this.indexes;
    let next = (slot + 1) & mask;
    for (;;) {
      const w = words[next * 3 + 2]!;
      if (w === 0) break;
      const k = words[next * 3]!;
      const at = home(k, w & MAX_HIGH) & mask;
      const inRange = slot <= next ? slot < at && at <= next : slot < at || at <= next;
      if (!inRange) {
        words[slot * 3] = k;
        words[slot * 3 + 1] = words[next * 3 + 1]!;
        words[slot * 3 + 2] = w;
        if (indexes !== undefined) indexes[slot] = indexes[next]!;
        slot = next;
      }
      next = (next + 1) & mask;
    }
    words[slot * 3 + 2] = 0;
    return true;
  }

  /** Calls `fn` for every live allocation (order unspecified). */
  forEach(fn: (address: number, size: number, site: SiteId) => void): void {
    const slots = this.mask + 1;
    const words = this.words;
    for (let i = 0; i < slots; i++) {
      const w = words[i * 3 + 2]!;
      if (w === 0) continue;
      const address = (w & MAX_HIGH) * TWO_35 + words[i * 3]! * 8;
      const s = words[i * 3 + 1]!;
      const siteField = w >>> HIGH_BITS;
      fn(address, s === BESIDE ? (this.bigSizes.get(address) as number) : s, (siteField === SITE_BESIDE ? this.besideSites.get(address) : siteField - 1) as SiteId);
    }
    for (const [address, e] of this.odd) fn(address, e.size, e.site);
  }

  /**
   * Writes the entry at `slot`. No address argument: a double passed to a call that V8 does not inline is
   * boxed (a heap number per event). Small, the rare values in putBeside(): this is inlined with the rest of
   * the replay's chain into the decoder's loop, within V8's budget for it (src/util/report-flags.ts).
   */
  private put(slot: number, low: number, high: number, size: number, site: SiteId, index: number): void {
    const words = this.words;
    words[slot * 3] = low;
    words[slot * 3 + 1] = size;
    words[slot * 3 + 2] = ((site < SITE_BESIDE - 1 ? site + 1 : SITE_BESIDE) << HIGH_BITS) | high;
    const indexes = this.indexes;
    if (indexes !== undefined) indexes[slot] = index;
    if (size >= BESIDE || site >= SITE_BESIDE - 1 || (indexes === undefined ? size >= this.indexesFrom : index >= BESIDE)) this.putBeside(slot, size, site, index);
  }

  /** put()'s values that the entry cannot hold, into the maps beside (keyed by the address, rebuilt). */
  private putBeside(slot: number, size: number, site: SiteId, index: number): void {
    const address = this.addressAt(slot);
    if (size >= BESIDE) {
      this.words[slot * 3 + 1] = BESIDE;
      this.bigSizes.set(address, size);
    }
    if (site >= SITE_BESIDE - 1) this.besideSites.set(address, site);
    const indexes = this.indexes;
    if (indexes === undefined) {
      if (size >= this.indexesFrom) this.besideIndexes.set(address, index);
    } else if (index >= BESIDE) {
      indexes[slot] = BESIDE;
      this.besideIndexes.set(address, index);
    }
  }

  /** The address of the entry at `slot`. */
  private addressAt(slot: number): number {
    return (this.words[slot * 3 + 2]! & MAX_HIGH) * TWO_35 + this.words[slot * 3]! * 8;
  }

  /** Reads the values of the entry at `slot` into removedSize/Site/Index (with takeBeside() for the rare ones). */
  private take(slot: number): void {
    const words = this.words;
    const size = words[slot * 3 + 1]!;
    const siteField = words[slot * 3 + 2]! >>> HIGH_BITS;
    this.removedSize = size;
    this.removedSite = (siteField - 1) as SiteId;
    const indexes = this.indexes;
    const index = indexes !== undefined ? indexes[slot]! : 0;
    this.removedIndex = index;
    if (size === BESIDE || siteField === SITE_BESIDE || (indexes === undefined ? size >= this.indexesFrom : index === BESIDE)) this.takeBeside(slot);
  }

  /** take()'s values kept in the maps beside, taken out of them. */
  private takeBeside(slot: number): void {
    const address = this.addressAt(slot);
    if (this.words[slot * 3 + 1] === BESIDE) {
      this.removedSize = this.bigSizes.get(address) as number;
      this.bigSizes.delete(address);
    }
    if (this.words[slot * 3 + 2]! >>> HIGH_BITS === SITE_BESIDE) {
      this.removedSite = this.besideSites.get(address) as SiteId;
      this.besideSites.delete(address);
    }
    if (this.indexes !== undefined) {
      if (this.removedIndex === BESIDE) {
        this.removedIndex = this.besideIndexes.get(address) as number;
        this.besideIndexes.delete(address);
      }
    } else if (this.removedSize >= this.indexesFrom) {
      this.removedIndex = this.besideIndexes.get(address) ?? 0;
      this.besideIndexes.delete(address);
    }
  }

  private find(low: number, high: number): number {
    const words = this.words;
    const mask = this.mask;
    let slot = home(low, high) & mask;
    for (;;) {
      const w = words[slot * 3 + 2]!;
      if (w === 0) return -1;
      if (words[slot * 3] === low && (w & MAX_HIGH) === high) return slot;
      slot = (slot + 1) & mask;
    }
  }

  /** The index an odd entry keeps: as the table would (0 when not kept). */
  private keptIndex(size: number, index: number): number {
    return this.indexes !== undefined || size >= this.indexesFrom ? index : 0;
  }

  private oddInsertOrReplace(address: number, size: number, site: SiteId, index: number): boolean {
    const replaced = this.oddRemove(address);
    this.odd.set(address, { size, site, index: this.keptIndex(size, index) });
    return replaced;
  }

  private oddRemove(address: number): boolean {
    const e = this.odd.get(address);
    if (e === undefined) return false;
    this.odd.delete(address);
    this.removedSize = e.size;
    this.removedSite = e.site;
    this.removedIndex = e.index;
    return true;
  }

  /**
   * Doubles the table: in place when its arrays have the room, else into new arrays. The caller says
   * outgrown() with what it returns, the bytes of the old arrays when there were new ones (else 0), once
   * they are no longer referenced from this frame: otherwise they would wait for a full collection
   * (util/outgrown.ts).
   */
  private grow(): number {
    const slots = (this.mask + 1) * 2;
    if (slots * 3 <= this.words.length) {
      this.growInPlace();
      return 0;
    }
    const oldWords = this.words;
    const oldIndexes = this.indexes;
    const oldSlots = this.mask + 1;
    const [words, indexes] = newArrays(slots, oldIndexes !== undefined);
    const mask = slots - 1;
    // The values move as they are (what is kept beside stays keyed by address).
    for (let i = 0; i < oldSlots; i++) {
      const w = oldWords[i * 3 + 2]!;
      if (w === 0) continue;
      const k = oldWords[i * 3]!;
      let slot = home(k, w & MAX_HIGH) & mask;
      while (words[slot * 3 + 2] !== 0) slot = (slot + 1) & mask;
      words[slot * 3] = k;
      words[slot * 3 + 1] = oldWords[i * 3 + 1]!;
      words[slot * 3 + 2] = w;
      if (indexes !== undefined) indexes[slot] = oldIndexes![i]!;
    }
    this.words = words;
    this.indexes = indexes;
    this.mask = mask;
    return oldWords.byteLength + (oldIndexes?.byteLength ?? 0);
  }

  /**
   * Doubles the slots in use within the same arrays; the new half is empty (never used). Each entry of the
   * old half is taken out and put back by the new mask, its home either where it was or one old size
   * higher. Taken in slot order from just after an empty slot, so that each probe run is taken from its
   * start: an entry put back in the old half then lands at or before the slot it left (every slot from its
   * home to there was taken already, and it is empty now), so it never passes an entry not yet taken; one
   * put back in the new half sees only entries already put back, unless its probe run reaches the end of the
   * table and would go on at slot 0: those few are set aside and inserted once all are in.
   */
  private growInPlace(): void {
    const words = this.words;
    const indexes = this.indexes;
    const oldSlots = this.mask + 1;
    const slots = oldSlots * 2;
    const mask = slots - 1;
    this.mask = mask;
    let empty = 0;
    while (words[empty * 3 + 2] !== 0) empty++; // there is one: the load factor is at most 0.7
    let wrapped: number[] | undefined;
    for (let n = 1; n <= oldSlots; n++) {
      const i = (empty + n) & (oldSlots - 1);
      const w = words[i * 3 + 2]!;
      if (w === 0) continue;
      const k = words[i * 3]!;
      words[i * 3 + 2] = 0;
      let slot = home(k, w & MAX_HIGH) & mask;
      while (words[slot * 3 + 2] !== 0 && slot < mask) slot++;
      if (words[slot * 3 + 2] !== 0) {
        (wrapped ??= []).push(k, words[i * 3 + 1]!, w, indexes !== undefined ? indexes[i]! : 0);
        words[i * 3] = 0;
        continue;
      }
      if (slot === i) {
        words[i * 3 + 2] = w;
        continue;
      }
      words[slot * 3] = k;
      words[slot * 3 + 1] = words[i * 3 + 1]!;
      words[slot * 3 + 2] = w;
      words[i * 3] = 0;
      if (indexes !== undefined) indexes[slot] = indexes[i]!;
    }
    if (wrapped === undefined) return;
    for (let e = 0; e < wrapped.length; e += 4) {
      const k = wrapped[e]!;
      const w = wrapped[e + 2]!;
      let slot = home(k, w & MAX_HIGH) & mask;
      while (words[slot * 3 + 2] !== 0) slot = (slot + 1) & mask;
      words[slot * 3] = k;
      words[slot * 3 + 1] = wrapped[e + 1]!;
      words[slot * 3 + 2] = w;
      if (indexes !== undefined) indexes[slot] = wrapped[e + 3]!;
    }
  }
}

/**
 * The arrays of a table of `slots` slots: exact below IN_PLACE_FROM, else reserved larger (RESERVED_SLOTS,
 * or four times `slots` past it). Where the system refuses to reserve that much (a strict overcommit
 * setting), exact.
 */
function newArrays(slots: number, withIndexes: boolean): [Uint32Array, Uint32Array | undefined] {
  if (slots >= IN_PLACE_FROM) {
    const room = Math.max(RESERVED_SLOTS, slots * 4);
    try {
      return [new Uint32Array(room * 3), withIndexes ? new Uint32Array(room) : undefined];
    } catch {
      // A RangeError: the arrays are allocated exactly below.
    }
  }
  return [new Uint32Array(slots * 3), withIndexes ? new Uint32Array(slots) : undefined];
}
