// Copies of the blocks that wait undecoded (CaptureDecoder's deferred blocks), kept in slabs that are used
// again once every block copied into them was decoded.
//
// A deferred block is a few KiB that lives until the orderer's next release: long enough, when V8's young
// generation is small, to be promoted, and then its own ArrayBuffer waits for a full collection after it
// was decoded. A 50 M-event capture defers thousands of blocks; copied one ArrayBuffer each, several MiB of
// decoded blocks were waiting in the old generation at the end of a read (docs/benchmarks.md, "Report
// memory"). Here they are copied into 64 KiB slabs: a slab whose blocks were all decoded is written
// again, so the memory the waiting blocks take is bounded by what waits at once, whatever the collector does.
//
// The slabs are carved out of one region reserved for 512 of them (32 MiB of address space, resident only as
// far as slabs were written). A burst of waiting blocks (a 50 M-event capture had 257 of 32 KiB waiting at
// once for a barrier that came late) used to leave its slabs in the free list, written, to the end of the
// read: 8 MiB of every report's peak (docs/benchmarks.md, "Reports' peak memory, round nine"). Freeing them
// would not have given the memory back either: 256 KiB buffers are taken from malloc's heap once its
// dynamic mmap threshold rose above that (glibc raises it to the size of any mapped block freed), and free()
// gives back only the top of that heap. So once every copy was given back, a region that held more than
// DROP_FROM_SLABS slabs is let go and the next copy starts a new one: its pages are not resident until
// written, and the old one's mapping goes back to the system at the full collection outgrown() asks for.
// That collection waits for the next copy: at the last release, the orderer's list of waiting blocks (and
// the block being decoded) still reach the region, so a collection then kept it, and no other full
// collection came before the end of the read: 4-5 MiB of a report's peak (docs/benchmarks.md, "Reports'
// peak memory, round ten").

import { outgrown } from '../util/outgrown.js';

/**
 * 64 KiB: two of a thread's 32 KiB blocks. A slab is written again only once every copy in it was decoded, and
 * the orderer releases copies in an order of its own, so one block still waiting keeps its whole slab busy:
 * with slabs of 256 KiB (eight blocks) a 50 M-event capture's region had 1.5 MiB written for about 1.1 MiB
 * waiting at most, with 64 KiB 1.1 MiB (docs/benchmarks.md, "The read's buffers, round twelve").
 */
export const SLAB_BYTES = 64 << 10;
/** Larger blocks get a buffer of their own. */
const OWN_BUFFER_FROM = 64 << 10;
/**
 * Bytes of a region: 32 MiB so that malloc maps it whatever its dynamic threshold (glibc raises it up to 32
 * MiB), and does not raise the threshold when it is freed; mapped fresh, its pages are zero without being
 * written. More slabs than it holds at once get buffers of their own.
 */
const REGION_BYTES = 32 << 20;
/**
 * A region whose slabs reached this many (2 MiB written) is replaced once nothing in it is read any more;
 * twice as many after each time, so that a capture whose blocks always wait in that number asks for a few
 * full collections, not one per barrier.
 */
export const DROP_FROM_SLABS = 32;

export interface Slab {
  readonly bytes: Uint8Array;
  /** Bytes handed out since the slab was last (re)started. */
  used: number;
  /** Copies handed out and not given back yet. */
  out: number;
  /** No longer the one copies go into: back to the free list when `out` reaches 0. */
  retired: boolean;
}

export class BlockPool {
  private current: Slab | undefined;
  private free: Slab[] = [];
  /** Where new slabs are carved from; undefined before the first, or where the system refused one. */
  private region: Uint8Array | undefined;
  private regionRefused = false;
  /** Slabs carved from `region`, and slabs made in all since the region was started. */
  private carved = 0;
  private made = 0;
  /** Copies into slabs handed out and not given back yet. */
  private outstanding = 0;
  private dropFrom = DROP_FROM_SLABS;
  /** Bytes of slabs let go whose collection waits for the next copy (see letGo()). */
  private collectPending = 0;

  /** Bytes of the slabs that hold copies not given back, or take the next copies: what waits now, in slabs. */
  get waitingBytes(): number {
    return (this.made - this.free.length) * SLAB_BYTES;
  }

  /** The slab of the last copy(), or undefined when it got a buffer of its own. */
  lastSlab: Slab | undefined;

  /** A copy of `bytes`, valid until release(lastSlab) is called for it. */
  copy(bytes: Uint8Array): Uint8Array {
    const n = bytes.length;
    if (n >= OWN_BUFFER_FROM) {
      this.lastSlab = undefined;
      return bytes.slice();
    }
    let s = this.current;
    if (s === undefined || s.used + n > s.bytes.length) {
      if (s !== undefined) this.retire(s);
      s = this.free.pop() ?? { bytes: this.newSlabBytes(), used: 0, out: 0, retired: false };
      s.used = 0;
      s.out = 0;
      s.retired = false;
      this.current = s;
    }
    const at = s.used;
    s.bytes.set(bytes, at);
    s.used = at + n;
    s.out++;
    this.outstanding++;
    this.lastSlab = s;
    return s.bytes.subarray(at, at + n);
  }

  /** The copy made into `slab` is no longer read (undefined: it had a buffer of its own). */
  release(slab: Slab | undefined): void {
    if (slab === undefined) return;
    slab.out--;
    if (--this.outstanding === 0 && this.made > this.dropFrom) {
      this.letGo();
      return;
    }
    if (slab.out === 0) {
      if (slab.retired) this.free.push(slab);
      // The current slab, empty again: start it over rather than leave its front unused.
      else slab.used = 0;
    }
  }

  /** Nothing is read from the slabs any more: they go, with their region, and the next copy starts afresh. */
  private letGo(): void {
    this.collectPending = this.made * SLAB_BYTES;
    this.dropFrom *= 2;
    this.region = undefined;
    this.carved = 0;
    this.made = 0;
    this.free = [];
    this.current = undefined;
    this.lastSlab = undefined;
  }

  private newSlabBytes(): Uint8Array {
    if (this.collectPending > 0) {
      // The copies of the last region were all decoded before this block came, and their reader let go of
      // them: a collection now frees the region (before a new one is made).
      outgrown(this.collectPending);
      this.collectPending = 0;
    }
    this.made++;
    if (this.region === undefined && !this.regionRefused) {
      try {
        this.region = new Uint8Array(REGION_BYTES);
      } catch {
        // A RangeError (a strict overcommit setting): slabs of their own, as many as wait at once.
        this.regionRefused = true;
      }
    }
    if (this.region !== undefined && (this.carved + 1) * SLAB_BYTES <= REGION_BYTES) {
      const at = this.carved++ * SLAB_BYTES;
      return this.region.subarray(at, at + SLAB_BYTES);
    }
    return new Uint8Array(SLAB_BYTES);
  }

  private retire(s: Slab): void {
    s.retired = true;
    if (s.out === 0) this.free.push(s);
  }
}
