// The allocations live right now, keyed by address: an open-addressing hash table in typed arrays.
//
// This is the main memory cost of reading a capture (millions of live allocations in a big process), so
// an entry is 16 bytes (address as a double; size and site as uint32) at a load factor of at most 0.7,
// instead of a Map entry plus an object (~150 bytes). The three share one buffer, an entry's 16 bytes
// side by side: a look-up that finds its address has the size and site in the same cache line (with
// three arrays, an insert or a remove in a table bigger than the cache missed three times, not once). The allocation's index (its number among
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
import { hashAddress } from './tuple-interner.js';
import { outgrown } from '../util/outgrown.js';

// Address 0 is never a live allocation (NULL is how an allocator fails; the model leaves an ALLOC at 0
// out as impossible, value-bounds.ts), so it marks an empty slot; a FREE of 0 finds nothing.
const EMPTY = 0;
/** In the uint32 columns: the value is in the side map (or, for an index, was not kept). */
const BESIDE = 0xffffffff;
const TWO_32 = 4294967296;
/** A table reaching this many slots moves into arrays reserved for RESERVED_SLOTS (below it, exact arrays). */
const IN_PLACE_FROM = 1 << 17;
/**
 * Slots of the arrays a big table doubles in (virtual memory: 128 MiB of entries, 32 MiB of indexes, none
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

export class LiveTable {
  /** Entry i: the address at keys[2i]; size and site at words[4i + 2] and words[4i + 3] (the same buffer). */
  private keys: Float64Array;
  private words: Uint32Array;
  /** Present when every allocation's index is kept (indexesFrom 0). */
  private indexes: Uint32Array | undefined;
  private readonly indexesFrom: number;
  /** Sizes of 2^32 − 1 bytes or more, by address. */
  private readonly bigSizes = new Map<number, number>();
  /** Indexes that are kept but not in `indexes` (too big for it, or indexesFrom > 0), by address. */
  private readonly besideIndexes = new Map<number, number>();
  /** Slots in use − 1 (the arrays may hold more: see RESERVED_SLOTS). */
  private mask: number;
  private count = 0;
  // What remove() found, read by the caller right after it (no object per call on the hot path).
  removedSize = 0;
  removedSite = 0 as SiteId;
  removedIndex = 0;

  constructor(initialCapacity = 1 << 16, options: LiveTableOptions = {}) {
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.indexesFrom = options.indexesFrom ?? 0;
    [this.keys, this.indexes] = newArrays(cap, this.indexesFrom === 0);
    this.words = new Uint32Array(this.keys.buffer);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  /** The bytes of the slots in use (the arrays reserved for a big table are larger, and not resident beyond them). */
  get byteLength(): number {
    return (this.mask + 1) * (this.indexes !== undefined ? 20 : 16);
  }

  has(address: number): boolean {
    return this.find(address) >= 0;
  }

  /** Adds an allocation; the caller has checked that `address` is not live. */
  insert(address: number, size: number, site: SiteId, index: number): void {
    if ((this.count + 1) * 10 > (this.mask + 1) * 7) outgrown(this.grow());
    const keys = this.keys;
    let slot = hashAddress(address) & this.mask;
    while (keys[slot * 2] !== EMPTY) slot = (slot + 1) & this.mask;
    keys[slot * 2] = address;
    this.put(slot, address, size, site, index);
    this.count++;
  }

  /**
   * Adds an allocation at `address`, replacing the one live there if any (then true, and removedSize/Site/
   * Index describe the replaced one). One probe instead of remove() then insert().
   */
  insertOrReplace(address: number, size: number, site: SiteId, index: number): boolean {
    if ((this.count + 1) * 10 > (this.mask + 1) * 7) outgrown(this.grow());
    const keys = this.keys;
    const mask = this.mask;
    let slot = hashAddress(address) & mask;
    for (;;) {
      const k = keys[slot * 2]!;
      if (k === address) {
        this.take(slot, address);
        this.put(slot, address, size, site, index);
        return true;
      }
      if (k === EMPTY) break;
      slot = (slot + 1) & mask;
    }
    keys[slot * 2] = address;
    this.put(slot, address, size, site, index);
    this.count++;
    return false;
  }

  /** Removes the allocation at `address`; false if none. On success removedSize/Site/Index describe it. */
  remove(address: number): boolean {
    let slot = this.find(address);
    if (slot < 0) return false;
    this.take(slot, address);
    this.count--;
    // Backward-shift deletion: move later members of the probe run into the hole when their home slot
    // does not lie cyclically in (hole, current].
    const mask = this.mask;
    const keys = this.keys;
    const words = this.words;
    const indexes = this.indexes;
    let next = (slot + 1) & mask;
    for (;;) {
      const k = keys[next * 2]!;
      if (k === EMPTY) break;
      // hashAddress(k) written out: called here (V8 did not inline it), it boxed k and cost 1.4 % of a report.
      let h = Math.imul((k / 8) >>> 0, 0x9e3779b1) ^ Math.imul((k / TWO_32) >>> 0, 0x85ebca6b);
      h ^= h >>> 15;
      h = Math.imul(h, 0x2c1b3c6d);
      h ^= h >>> 12;
      const home = h & mask;
      const inRange = slot <= next ? slot < home && home <= next : slot < home || home <= next;
      if (!inRange) {
        keys[slot * 2] = k;
        words[slot * 4 + 2] = words[next * 4 + 2]!;
        words[slot * 4 + 3] = words[next * 4 + 3]!;
        if (indexes !== undefined) indexes[slot] = indexes[next]!;
        slot = next;
      }
      next = (next + 1) & mask;
    }
    keys[slot * 2] = EMPTY;
    return true;
  }

  /** Calls `fn` for every live allocation (order unspecified). */
  forEach(fn: (address: number, size: number, site: SiteId) => void): void {
    const slots = this.mask + 1;
    for (let i = 0; i < slots; i++) {
      const k = this.keys[i * 2]!;
      if (k !== EMPTY) {
        const s = this.words[i * 4 + 2]!;
        fn(k, s === BESIDE ? (this.bigSizes.get(k) as number) : s, this.words[i * 4 + 3] as SiteId);
      }
    }
  }

  /** Writes the values of the entry at `slot` (its key is set). */
  private put(slot: number, address: number, size: number, site: SiteId, index: number): void {
    const words = this.words;
    if (size < BESIDE) words[slot * 4 + 2] = size;
    else {
      words[slot * 4 + 2] = BESIDE;
      this.bigSizes.set(address, size);
    }
    words[slot * 4 + 3] = site;
    const indexes = this.indexes;
    if (indexes !== undefined) {
      if (index < BESIDE) indexes[slot] = index;
      else {
        indexes[slot] = BESIDE;
        this.besideIndexes.set(address, index);
      }
    } else if (size >= this.indexesFrom) {
      this.besideIndexes.set(address, index);
    }
  }

  /** Reads the values of the entry at `slot` into removedSize/Site/Index and forgets what is kept beside. */
  private take(slot: number, address: number): void {
    const words = this.words;
    const s = words[slot * 4 + 2]!;
    if (s !== BESIDE) this.removedSize = s;
    else {
      this.removedSize = this.bigSizes.get(address) as number;
      this.bigSizes.delete(address);
    }
    this.removedSite = words[slot * 4 + 3] as SiteId;
    const indexes = this.indexes;
    if (indexes !== undefined) {
      const i = indexes[slot]!;
      if (i !== BESIDE) this.removedIndex = i;
      else {
        this.removedIndex = this.besideIndexes.get(address) as number;
        this.besideIndexes.delete(address);
      }
    } else if (this.removedSize >= this.indexesFrom) {
      this.removedIndex = this.besideIndexes.get(address) ?? 0;
      this.besideIndexes.delete(address);
    } else {
      this.removedIndex = 0;
    }
  }

  private find(address: number): number {
    if (address === EMPTY) return -1;
    const keys = this.keys;
    const mask = this.mask;
    let slot = hashAddress(address) & mask;
    for (;;) {
      const k = keys[slot * 2]!;
      if (k === address) return slot;
      if (k === EMPTY) return -1;
      slot = (slot + 1) & mask;
    }
  }

  /**
   * Doubles the table: in place when its arrays have the room, else into new arrays. The caller says
   * outgrown() with what it returns, the bytes of the old arrays when there were new ones (else 0), once
   * they are no longer referenced from this frame: otherwise they would wait for a full collection
   * (util/outgrown.ts).
   */
  private grow(): number {
    const slots = (this.mask + 1) * 2;
    if (slots * 2 <= this.keys.length) {
      this.growInPlace();
      return 0;
    }
    const oldKeys = this.keys;
    const oldWords = this.words;
    const oldIndexes = this.indexes;
    const oldSlots = this.mask + 1;
    const [keys, indexes] = newArrays(slots, oldIndexes !== undefined);
    const words = new Uint32Array(keys.buffer);
    const mask = slots - 1;
    // The values move as they are (what is kept beside stays keyed by address).
    for (let i = 0; i < oldSlots; i++) {
      const k = oldKeys[i * 2]!;
      if (k === EMPTY) continue;
      let slot = hashAddress(k) & mask;
      while (keys[slot * 2] !== EMPTY) slot = (slot + 1) & mask;
      keys[slot * 2] = k;
      words[slot * 4 + 2] = oldWords[i * 4 + 2]!;
      words[slot * 4 + 3] = oldWords[i * 4 + 3]!;
      if (indexes !== undefined) indexes[slot] = oldIndexes![i]!;
    }
    this.keys = keys;
    this.words = words;
    this.indexes = indexes;
    this.mask = mask;
    return oldKeys.byteLength + (oldIndexes?.byteLength ?? 0);
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
    const keys = this.keys;
    const words = this.words;
    const indexes = this.indexes;
    const oldSlots = this.mask + 1;
    const slots = oldSlots * 2;
    const mask = slots - 1;
    this.mask = mask;
    let empty = 0;
    while (keys[empty * 2] !== EMPTY) empty++; // there is one: the load factor is at most 0.7
    let wrapped: number[] | undefined;
    for (let n = 1; n <= oldSlots; n++) {
      const i = (empty + n) & (oldSlots - 1);
      const k = keys[i * 2]!;
      if (k === EMPTY) continue;
      keys[i * 2] = EMPTY;
      let slot = hashAddress(k) & mask;
      while (keys[slot * 2] !== EMPTY && slot < mask) slot++;
      if (keys[slot * 2] !== EMPTY) {
        (wrapped ??= []).push(k, words[i * 4 + 2]!, words[i * 4 + 3]!, indexes !== undefined ? indexes[i]! : 0);
        continue;
      }
      if (slot === i) {
        keys[i * 2] = k;
        continue;
      }
      keys[slot * 2] = k;
      words[slot * 4 + 2] = words[i * 4 + 2]!;
      words[slot * 4 + 3] = words[i * 4 + 3]!;
      if (indexes !== undefined) indexes[slot] = indexes[i]!;
    }
    if (wrapped === undefined) return;
    for (let w = 0; w < wrapped.length; w += 4) {
      const k = wrapped[w]!;
      let slot = hashAddress(k) & mask;
      while (keys[slot * 2] !== EMPTY) slot = (slot + 1) & mask;
      keys[slot * 2] = k;
      words[slot * 4 + 2] = wrapped[w + 1]!;
      words[slot * 4 + 3] = wrapped[w + 2]!;
      if (indexes !== undefined) indexes[slot] = wrapped[w + 3]!;
    }
  }
}

/**
 * The arrays of a table of `slots` slots: exact below IN_PLACE_FROM, else reserved larger (RESERVED_SLOTS,
 * or four times `slots` past it). Where the system refuses to reserve that much (a strict overcommit
 * setting), exact.
 */
function newArrays(slots: number, withIndexes: boolean): [Float64Array, Uint32Array | undefined] {
  if (slots >= IN_PLACE_FROM) {
    const room = Math.max(RESERVED_SLOTS, slots * 4);
    try {
      return [new Float64Array(room * 2), withIndexes ? new Uint32Array(room) : undefined];
    } catch {
      // A RangeError: the arrays are allocated exactly below.
    }
  }
  return [new Float64Array(slots * 2), withIndexes ? new Uint32Array(slots) : undefined];
}
