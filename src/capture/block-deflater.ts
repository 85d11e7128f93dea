// Compressing blocks with brotli through one long-lived compressor, the writer's twin of block-inflater.ts.
//
// brotliCompressSync builds a whole zlib stream object (a Transform, its buffers, a native handle) for every
// block and closes it again: on the 32 KiB blocks of a Python-allocator stream that was 25-35 µs a block, a
// fifth to a third of what quality 1 costs (json_roundtrip: 1,381 blocks, 173 -> 138 ms; objects 117 ->
// 80 ms; docs/benchmarks.md, "The follower's CPU"). Here the native handle of one compressor is initialised
// again for each block with that block's parameters (a new encoder state, as brotliCompressSync makes) and
// compresses it in one synchronous call into a buffer used again: the same bytes, without the stream.
//
// Node has no public API for this: zlib-handle.ts drives the handle. Where it cannot, compress() returns
// undefined and the caller uses brotliCompressSync.

import { brotliCompressSync, brotliDecompressSync, constants, createBrotliCompress } from 'node:zlib';
import { UNSET_PARAM, ZlibHandle } from './zlib-handle.js';

/**
 * The window that a stream of brotli's fast qualities (0 and 1) declares: 2^18 bytes, whatever window it was
 * compressed with. A reader's brotli decoder allocates a ring of the declared window (or of the output,
 * rounded up to a power of two, when that is smaller): 1 MiB for every 1 MiB pack declared with a window of
 * 2^24, 256 KiB declared with 2^18. The fast qualities never copy from further back than 2^18 - 16 bytes
 * (brotli's compress_fragment.c and compress_fragment_two_pass.c: "maximal copy distance <=
 * BROTLI_MAX_BACKWARD_LIMIT(18)") and never from the static dictionary, whatever the window; but the window
 * they are given also bounds the fragment their hash table spans, so compressed with a window of 2^18 a
 * 1 MiB pack came out 19 % larger (docs/benchmarks.md, "Packs' size and brotli window, round fifteen"). So such a
 * stream is compressed with the window its payload needs and declared with 2^18: the same bytes but the
 * stream header's window bits, a stream a decoder of window 2^18 reads exactly.
 */
export const FAST_LGWIN = 18;

/** The highest brotli quality whose copies stay within 2^FAST_LGWIN - 16 bytes. */
export const FAST_MAX_QUALITY = 1;

/** Whether fastWindowHolds() found the fast quality's streams read the same with the window declared 2^FAST_LGWIN. */
const fastWindowChecked: (boolean | undefined)[] = [];

/**
 * Whether a stream of `quality` compressed with a window of 2^`lgwin` may declare 2^FAST_LGWIN instead
 * (declareFastWindow). Checked once per quality on a payload that tempts a compressor to copy from 288 KiB
 * back (64 KiB repeated after 224 KiB of other bytes): if this node's brotli ever did, that stream would not
 * read back with the window declared 2^18, and the windows stay as compressed (a larger ring for readers,
 * never wrong bytes).
 */
export function fastWindowHolds(quality: number, lgwin: number): boolean {
  if (quality < 0 || quality > FAST_MAX_QUALITY || lgwin <= FAST_LGWIN || lgwin > 24) return false;
  let known = fastWindowChecked[quality];
  if (known === undefined) {
    // Bytes of 64 values (xorshift32): compressed as literals, not stored, so that a copy would be coded;
    // 4-byte runs mostly seen once, so that the copy's first bytes lead a hash table 288 KiB back.
    const probe = new Uint8Array(352 << 10);
    const words = new Int32Array(probe.buffer, 0, (288 << 10) >> 2);
    let x = 0x2545f491;
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      words[i] = x & 0x3f3f3f3f;
    }
    probe.copyWithin(288 << 10, 0, 64 << 10);
    const params = { [constants.BROTLI_PARAM_QUALITY]: quality, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: probe.length };
    const c = brotliCompressSync(probe, { params });
    known = declareFastWindow(c, 24);
    if (known) {
      try {
        known = brotliDecompressSync(c).equals(probe);
      } catch {
        known = false;
      }
    }
    fastWindowChecked[quality] = known;
  }
  return known;
}

/**
 * Rewrites the window bits at the start of brotli stream `c`, compressed with a window of 2^`lgwin` (18 to
 * 24: RFC 7932, 9.1, four bits: 1 then lgwin - 17), to declare 2^FAST_LGWIN; false (`c` unchanged) when its
 * first bits do not say 2^`lgwin`.
 */
export function declareFastWindow(c: Uint8Array, lgwin: number): boolean {
  const b = c[0];
  if (b === undefined || lgwin < 18 || lgwin > 24 || (b & 0x0f) !== (1 | ((lgwin - 17) << 1))) return false;
  c[0] = (b & 0xf0) | 1 | ((FAST_LGWIN - 17) << 1);
  return true;
}

export class BlockDeflater {
  private readonly z = new ZlibHandle(() => createBrotliCompress(), ['init']);
  private out = new Uint8Array(64 << 10);
  private readonly params = new Uint32Array(constants.BROTLI_PARAM_LARGE_WINDOW + 1).fill(UNSET_PARAM);

  /**
   * `payload` compressed at `quality` with a window of 2^`lgwin` bytes, in a buffer that the next call
   * overwrites, from `headroom` bytes into it (the bytes before are the caller's to fill: a block's header
   * in front of its payload, without a copy); `null` when that is not smaller than `payload` (the block is
   * stored as it is); undefined when this path cannot tell (then compress the ordinary way).
   */
  compress(payload: Uint8Array, quality: number, lgwin: number, headroom = 0): Uint8Array | null | undefined {
    // Room for as many bytes as the payload: an output that does not fit is not smaller, and is not kept.
    const room = payload.length;
    if (this.out.length < headroom + room) this.out = new Uint8Array(headroom + room);
    const p = this.params;
    p[constants.BROTLI_PARAM_QUALITY] = quality;
    p[constants.BROTLI_PARAM_LGWIN] = lgwin;
    p[constants.BROTLI_PARAM_SIZE_HINT] = payload.length;
    if (!this.z.finish(payload, this.out, room, p, headroom)) return undefined;
    // Output space used up: the stream may not be finished, and it is not smaller anyway.
    if (this.z.outLeft === 0 || this.z.inputLeft !== 0) return null;
    return this.out.subarray(headroom, headroom + room - this.z.outLeft);
  }
}
