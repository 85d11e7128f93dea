// Copies of the blocks that wait undecoded (CaptureDecoder's deferred blocks), kept in slabs that are used
// again once every block copied into them was decoded.
//
// A deferred block is a few KiB that lives until the orderer's next release: long enough, when V8's young
// generation is small, to be promoted, and then its own ArrayBuffer waits for a full collection after it
// was decoded. A 50 M-event capture defers thousands of blocks; copied one ArrayBuffer each, several MiB of
// decoded blocks were waiting in the old generation at the end of a read (docs/benchmarks.md, "Report
// memory"). Here they are copied into 256 KiB slabs: a slab whose blocks were all decoded is written
// again, so the memory the waiting blocks take is bounded by what waits at once, whatever the collector does.

const SLAB_BYTES = 256 << 10;
/** Larger blocks get a buffer of their own (they would leave most of a slab unused). */
const OWN_BUFFER_FROM = SLAB_BYTES >> 2;

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
  private readonly free: Slab[] = [];

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
      s = this.free.pop() ?? { bytes: new Uint8Array(SLAB_BYTES), used: 0, out: 0, retired: false };
      s.used = 0;
      s.out = 0;
      s.retired = false;
      this.current = s;
    }
    const at = s.used;
    s.bytes.set(bytes, at);
    s.used = at + n;
    s.out++;
    this.lastSlab = s;
    return s.bytes.subarray(at, at + n);
  }

  /** The copy made into `slab` is no longer read (undefined: it had a buffer of its own). */
  release(slab: Slab | undefined): void {
    if (slab === undefined) return;
    slab.out--;
    if (slab.out === 0) {
      if (slab.retired) this.free.push(slab);
      // The current slab, empty again: start it over rather than leave its front unused.
      else slab.used = 0;
    }
  }

  private retire(s: Slab): void {
    s.retired = true;
    if (s.out === 0) this.free.push(s);
  }
}
