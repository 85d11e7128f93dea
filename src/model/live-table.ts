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

import type { SiteId } from './ids.js';
import { hashAddress } from './tuple-interner.js';
import { outgrown } from '../util/outgrown.js';

// Address 0 is never a live allocation (NULL is how an allocator fails; the model leaves an ALLOC at 0
// out as impossible, value-bounds.ts), so it marks an empty slot; a FREE of 0 finds nothing.
const EMPTY = 0;
/** In the uint32 columns: the value is in the side map (or, for an index, was not kept). */
const BESIDE = 0xffffffff;
const TWO_32 = 4294967296;

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
  /** Slots − 1. */
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
    this.keys = new Float64Array(cap * 2);
    this.words = new Uint32Array(this.keys.buffer);
    this.indexes = this.indexesFrom === 0 ? new Uint32Array(cap) : undefined;
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  get byteLength(): number {
    return this.keys.byteLength + (this.indexes?.byteLength ?? 0);
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
   * Doubles the table. The caller says outgrown() with what it returns, the bytes of the old arrays (half
   * the new ones' size), once they are no longer referenced from this frame: otherwise they would wait for a
   * full collection (util/outgrown.ts).
   */
  private grow(): number {
    const oldKeys = this.keys;
    const oldWords = this.words;
    const oldIndexes = this.indexes;
    const oldSlots = this.mask + 1;
    const cap = oldSlots * 2;
    const keys = new Float64Array(cap * 2);
    const words = new Uint32Array(keys.buffer);
    const indexes = oldIndexes !== undefined ? new Uint32Array(cap) : undefined;
    const mask = cap - 1;
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
}
