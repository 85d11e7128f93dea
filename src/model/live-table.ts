// The allocations live right now, keyed by address: an open-addressing hash table in typed arrays.
//
// This is the main memory cost of reading a capture (millions of live allocations in a big process), so
// an entry is 28 bytes of arrays (address, size, allocation index as doubles; site as uint32) at a load
// factor of at most 0.7, instead of a Map entry plus an object (~150 bytes). Deletion shifts later
// entries of the probe run back (no tombstones), so a table that sees billions of events does not fill
// up with dead slots.

import type { SiteId } from './ids.js';
import { hashAddress } from './tuple-interner.js';

// Address 0 is never a live allocation (NULL is how an allocator fails; the model leaves an ALLOC at 0
// out as impossible, value-bounds.ts), so it marks an empty slot; a FREE of 0 finds nothing.
const EMPTY = 0;

export class LiveTable {
  private keys: Float64Array;
  private sizes: Float64Array;
  private indexes: Float64Array;
  private sites: Uint32Array;
  private mask: number;
  private count = 0;
  // What remove() found, read by the caller right after it (no object per call on the hot path).
  removedSize = 0;
  removedSite = 0 as SiteId;
  removedIndex = 0;

  constructor(initialCapacity = 1 << 16) {
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.keys = new Float64Array(cap);
    this.sizes = new Float64Array(cap);
    this.indexes = new Float64Array(cap);
    this.sites = new Uint32Array(cap);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  get byteLength(): number {
    return this.keys.byteLength + this.sizes.byteLength + this.indexes.byteLength + this.sites.byteLength;
  }

  has(address: number): boolean {
    return this.find(address) >= 0;
  }

  /** Adds an allocation; the caller has checked that `address` is not live. */
  insert(address: number, size: number, site: SiteId, index: number): void {
    if ((this.count + 1) * 10 > this.keys.length * 7) this.grow();
    let slot = hashAddress(address) & this.mask;
    while (this.keys[slot] !== EMPTY) slot = (slot + 1) & this.mask;
    this.keys[slot] = address;
    this.sizes[slot] = size;
    this.sites[slot] = site;
    this.indexes[slot] = index;
    this.count++;
  }

  /**
   * Adds an allocation at `address`, replacing the one live there if any (then true, and removedSize/Site/
   * Index describe the replaced one). One probe instead of remove() then insert().
   */
  insertOrReplace(address: number, size: number, site: SiteId, index: number): boolean {
    if ((this.count + 1) * 10 > this.keys.length * 7) this.grow();
    const keys = this.keys;
    let slot = hashAddress(address) & this.mask;
    for (;;) {
      const k = keys[slot]!;
      if (k === address) {
        this.removedSize = this.sizes[slot]!;
        this.removedSite = this.sites[slot] as SiteId;
        this.removedIndex = this.indexes[slot]!;
        this.sizes[slot] = size;
        this.sites[slot] = site;
        this.indexes[slot] = index;
        return true;
      }
      if (k === EMPTY) break;
      slot = (slot + 1) & this.mask;
    }
    keys[slot] = address;
    this.sizes[slot] = size;
    this.sites[slot] = site;
    this.indexes[slot] = index;
    this.count++;
    return false;
  }

  /** Removes the allocation at `address`; false if none. On success removedSize/Site/Index describe it. */
  remove(address: number): boolean {
    let slot = this.find(address);
    if (slot < 0) return false;
    this.removedSize = this.sizes[slot]!;
    this.removedSite = this.sites[slot] as SiteId;
    this.removedIndex = this.indexes[slot]!;
    this.count--;
    // Backward-shift deletion: move later members of the probe run into the hole when their home slot
    // does not lie cyclically in (hole, current].
    const mask = this.mask;
    const keys = this.keys;
    let next = (slot + 1) & mask;
    while (keys[next] !== EMPTY) {
      const home = hashAddress(keys[next]!) & mask;
      const inRange = slot <= next ? slot < home && home <= next : slot < home || home <= next;
      if (!inRange) {
        keys[slot] = keys[next]!;
        this.sizes[slot] = this.sizes[next]!;
        this.sites[slot] = this.sites[next]!;
        this.indexes[slot] = this.indexes[next]!;
        slot = next;
      }
      next = (next + 1) & mask;
    }
    keys[slot] = EMPTY;
    return true;
  }

  /** Calls `fn` for every live allocation (order unspecified). */
  forEach(fn: (address: number, size: number, site: SiteId) => void): void {
    for (let i = 0; i < this.keys.length; i++) {
      const k = this.keys[i]!;
      if (k !== EMPTY) fn(k, this.sizes[i]!, this.sites[i] as SiteId);
    }
  }

  private find(address: number): number {
    if (address === EMPTY) return -1;
    let slot = hashAddress(address) & this.mask;
    for (;;) {
      const k = this.keys[slot]!;
      if (k === address) return slot;
      if (k === EMPTY) return -1;
      slot = (slot + 1) & this.mask;
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldSizes = this.sizes;
    const oldSites = this.sites;
    const oldIndexes = this.indexes;
    const cap = oldKeys.length * 2;
    this.keys = new Float64Array(cap);
    this.sizes = new Float64Array(cap);
    this.indexes = new Float64Array(cap);
    this.sites = new Uint32Array(cap);
    this.mask = cap - 1;
    this.count = 0;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i]!;
      if (k !== EMPTY) this.insert(k, oldSizes[i]!, oldSites[i] as SiteId, oldIndexes[i]!);
    }
  }
}
