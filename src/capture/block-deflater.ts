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

import { constants, createBrotliCompress } from 'node:zlib';
import { UNSET_PARAM, ZlibHandle } from './zlib-handle.js';

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
