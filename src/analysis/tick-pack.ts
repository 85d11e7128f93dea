// A tick of RecentGrowth (the sites a tick changed and their live bytes and counts at its close) as varints
// in one byte array: the site, then each value zigzagged. A tick held as three typed arrays took 20 bytes a
// site; packed, 5-7 on call_sites (site ids below 2^21-2^28, live values of a few hundred bytes and a few
// allocations). call_sites' program runs 5.3 s, about its whole run in the 5 s window, so verdict's and the
// flame graphs' reads held every tick of it: 438 MiB of ticks at the end of the read, the reports' peak
// (docs/benchmarks.md, round twenty).

/** The most bytes one entry takes: a site below 2^31 (5) and two values below 2^52 in magnitude (8 each). */
const ENTRY_MAX = 21;
/** Values of a larger magnitude (or not integers) are not packed: the caller keeps the tick as it was. */
const PACKED_MAX = 2 ** 51;

export class TickPacker {
  private buf = new Uint8Array(1 << 16);

  /**
   * The first `n` of `sites` (all by default) with the values `bytes[site]` and `counts[site]`, packed; null
   * if a value is not an integer of magnitude below 2^51 (never for byte and allocation counts: they are
   * sums of sizes).
   */
  pack(sites: ArrayLike<number>, bytes: ArrayLike<number>, counts: ArrayLike<number>, n = sites.length): Uint8Array | null {
    let buf = this.buf;
    let p = 0;
    for (let i = 0; i < n; i++) {
      if (p + ENTRY_MAX > buf.length) {
        const grown = new Uint8Array(buf.length * 2);
        grown.set(buf);
        this.buf = buf = grown;
      }
      const s = sites[i]!;
      let u = s >>> 0;
      while (u > 127) {
        buf[p++] = (u & 127) | 128;
        u >>>= 7;
      }
      buf[p++] = u;
      for (let k = 0; k < 2; k++) {
        const v = k === 0 ? bytes[s]! : counts[s]!;
        if ((v | 0) === v) {
          let z = ((v << 1) ^ (v >> 31)) >>> 0;
          while (z > 127) {
            buf[p++] = (z & 127) | 128;
            z >>>= 7;
          }
          buf[p++] = z;
        } else {
          if (!Number.isInteger(v) || Math.abs(v) >= PACKED_MAX) return null;
          let z = v >= 0 ? v * 2 : -v * 2 - 1;
          while (z > 127) {
            buf[p++] = (z % 128) | 128;
            z = Math.floor(z / 128);
          }
          buf[p++] = z;
        }
      }
    }
    return buf.slice(0, p);
  }
}

/** Reads a packed tick's entries in order: `next()` then `site`, `bytes`, `count`. */
export class TickReader {
  site = 0;
  bytes = 0;
  count = 0;
  private p = 0;
  constructor(private readonly packed: Uint8Array) {}

  /** The next entry into the fields; false at the end. */
  next(): boolean {
    const packed = this.packed;
    let p = this.p;
    if (p >= packed.length) return false;
    let b = packed[p++]!;
    let site = b & 127;
    for (let shift = 7; b > 127; shift += 7) {
      b = packed[p++]!;
      site |= (b & 127) << shift;
    }
    this.site = site >>> 0;
    for (let k = 0; k < 2; k++) {
      b = packed[p++]!;
      let z = b & 127;
      for (let mult = 128; b > 127; mult *= 128) {
        b = packed[p++]!;
        z += (b & 127) * mult;
      }
      const v = z % 2 === 0 ? z / 2 : -(z + 1) / 2;
      if (k === 0) this.bytes = v;
      else this.count = v;
    }
    this.p = p;
    return true;
  }
}
