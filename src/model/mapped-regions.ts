// Live mmap regions as sorted, disjoint [start, end) ranges. munmap may free any part of a mapping (the
// head, the tail, a hole in the middle, or several mappings at once), so these are ranges, not a map
// keyed by address. Mappings are few (thousands, not millions): sorted arrays with binary search are
// enough.
//
// A mapping split in pieces is still one allocation for the counts: `origin` ties the pieces together
// and the allocation count drops when its last piece is unmapped.

import type { SiteId } from './ids.js';

export interface UnmappedPiece {
  readonly site: SiteId;
  readonly bytes: number;
  /** The last piece of its mapping went away: the allocation is no longer live. */
  readonly lastPiece: boolean;
  /** Allocation index (see LiveTable) of the mapping, for the temporary-allocation test. */
  readonly index: number;
  /** The whole mapping was freed at once, as allocated. */
  readonly whole: boolean;
}

export class MappedRegions {
  private starts: number[] = [];
  private ends: number[] = [];
  private sites: SiteId[] = [];
  private origins: number[] = [];
  private indexes: number[] = [];
  private readonly piecesByOrigin = new Map<number, number>();
  private readonly sizeByOrigin = new Map<number, number>();
  private nextOrigin = 1;

  get size(): number {
    return this.starts.length;
  }

  /** Adds a mapping. The range must be free: call unmap() on it first (MAP_FIXED replaces mappings). */
  add(start: number, size: number, site: SiteId, index: number): void {
    if (size <= 0) return;
    const i = this.firstEndingAfter(start);
    const origin = this.nextOrigin++;
    this.starts.splice(i, 0, start);
    this.ends.splice(i, 0, start + size);
    this.sites.splice(i, 0, site);
    this.origins.splice(i, 0, origin);
    this.indexes.splice(i, 0, index);
    this.piecesByOrigin.set(origin, 1);
    this.sizeByOrigin.set(origin, size);
  }

  /** True if `address` lies inside a live mapping. */
  contains(address: number): boolean {
    const i = this.firstEndingAfter(address);
    return i < this.starts.length && this.starts[i]! <= address;
  }

  /**
   * Removes [start, start + size) from the live mappings; size 0 removes the piece that starts at `start`.
   * Returns the pieces that went away (empty if the range held no tracked mapping).
   */
  unmap(start: number, size: number): UnmappedPiece[] {
    const out: UnmappedPiece[] = [];
    let i = this.firstEndingAfter(start);
    if (size <= 0) {
      if (i < this.starts.length && this.starts[i] === start) size = this.ends[i]! - start;
      else return out;
    }
    const end = start + size;
    while (i < this.starts.length && this.starts[i]! < end) {
      const s = this.starts[i]!;
      const e = this.ends[i]!;
      const site = this.sites[i]!;
      const origin = this.origins[i]!;
      const index = this.indexes[i]!;
      const cutStart = Math.max(s, start);
      const cutEnd = Math.min(e, end);
      const keepHead = cutStart > s;
      const keepTail = cutEnd < e;
      let pieces = this.piecesByOrigin.get(origin) ?? 1;
      if (keepHead && keepTail) {
        // A hole in the middle: the head stays at i, the tail becomes a new piece after it.
        this.ends[i] = cutStart;
        this.starts.splice(i + 1, 0, cutEnd);
        this.ends.splice(i + 1, 0, e);
        this.sites.splice(i + 1, 0, site);
        this.origins.splice(i + 1, 0, origin);
        this.indexes.splice(i + 1, 0, index);
        pieces++;
        i += 2;
      } else if (keepHead) {
        this.ends[i] = cutStart;
        i++;
      } else if (keepTail) {
        this.starts[i] = cutEnd;
        i++;
      } else {
        this.starts.splice(i, 1);
        this.ends.splice(i, 1);
        this.sites.splice(i, 1);
        this.origins.splice(i, 1);
        this.indexes.splice(i, 1);
        pieces--;
      }
      const lastPiece = pieces === 0;
      const whole = lastPiece && this.sizeByOrigin.get(origin) === e - s && cutStart === s && cutEnd === e;
      if (lastPiece) {
        this.piecesByOrigin.delete(origin);
        this.sizeByOrigin.delete(origin);
      } else {
        this.piecesByOrigin.set(origin, pieces);
      }
      out.push({ site, bytes: cutEnd - cutStart, lastPiece, index, whole });
    }
    return out;
  }

  /** Calls `fn` for every live piece. */
  forEach(fn: (start: number, bytes: number, site: SiteId) => void): void {
    for (let i = 0; i < this.starts.length; i++) {
      fn(this.starts[i]!, this.ends[i]! - this.starts[i]!, this.sites[i]!);
    }
  }

  /** Index of the first range whose end is above `address` (binary search). */
  private firstEndingAfter(address: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends[mid]! <= address) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
