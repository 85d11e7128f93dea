// Compressing blocks with brotli through one long-lived compressor, the writer's twin of block-inflater.ts.
//
// brotliCompressSync builds a whole zlib stream object (a Transform, its buffers, a native handle) for every
// block and closes it again: on the 32 KiB blocks of a Python-allocator stream that was 25-35 µs a block, a
// fifth to a third of what quality 1 costs (json_roundtrip: 1,381 blocks, 173 -> 138 ms; objects 117 ->
// 80 ms; docs/benchmarks.md, "The follower's CPU"). Here the native handle of one compressor is initialised
// again for each block with that block's parameters (a new encoder state, as brotliCompressSync makes) and
// compresses it in one synchronous call into a buffer used again: the same bytes, without the stream.
//
// Node has no public API for this, so it drives the handle the way node:zlib's own constructor and
// synchronous path do (init with the parameters, writeSync, the output and input left in _writeState).
// Where that handle is not there or fails (another Node), compress() returns undefined and the caller uses
// brotliCompressSync.

import { type BrotliCompress, constants, createBrotliCompress } from 'node:zlib';

interface NativeHandle {
  /** false when the parameters were refused (Node 20 returns nothing on success). */
  init(params: Uint32Array, writeState: Uint32Array, processCallback: () => void): boolean | undefined;
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
}

interface Internals {
  readonly _handle?: NativeHandle | null;
  readonly _writeState?: Uint32Array;
}

/** node:zlib's value for "parameter not set" in the array the handle's init() reads. */
const UNSET = 0xffffffff;

export class BlockDeflater {
  private z: (BrotliCompress & Internals) | undefined;
  private broken = false;
  private out = new Uint8Array(64 << 10);
  private readonly params = new Uint32Array(constants.BROTLI_PARAM_LARGE_WINDOW + 1).fill(UNSET);

  /**
   * `payload` compressed at `quality` with a window of 2^`lgwin` bytes, in a buffer that the next call
   * overwrites; `null` when that is not smaller than `payload` (the block is stored as it is); undefined
   * when this path cannot tell (then compress the ordinary way).
   */
  compress(payload: Uint8Array, quality: number, lgwin: number): Uint8Array | null | undefined {
    const z = this.handle();
    const handle = z?._handle;
    const state = z?._writeState;
    if (z === undefined || handle === undefined || handle === null || state === undefined) return undefined;
    // Room for as many bytes as the payload: an output that does not fit is not smaller, and is not kept.
    const room = payload.length;
    if (this.out.length < room) this.out = new Uint8Array(room);
    const p = this.params;
    p[constants.BROTLI_PARAM_QUALITY] = quality;
    p[constants.BROTLI_PARAM_LGWIN] = lgwin;
    p[constants.BROTLI_PARAM_SIZE_HINT] = payload.length;
    try {
      // A new encoder state with these parameters (init replaces the old one).
      if (handle.init(p, state, noop) === false) {
        this.drop();
        return undefined;
      }
      handle.writeSync(constants.BROTLI_OPERATION_FINISH, payload, 0, payload.length, this.out, 0, room);
    } catch {
      this.drop();
      return undefined;
    }
    const outLeft = state[0]!;
    const inputLeft = state[1]!;
    // Output space used up: the stream may not be finished, and it is not smaller anyway.
    if (outLeft === 0 || inputLeft !== 0) return null;
    return this.out.subarray(0, room - outLeft);
  }

  private handle(): (BrotliCompress & Internals) | undefined {
    if (this.z !== undefined || this.broken) return this.z;
    try {
      const z = createBrotliCompress() as BrotliCompress & Internals;
      z.on('error', () => undefined);
      if (typeof z._handle?.writeSync !== 'function' || typeof z._handle.init !== 'function' || !(z._writeState instanceof Uint32Array)) {
        this.broken = true;
        z.destroy();
        return undefined;
      }
      this.z = z;
    } catch {
      this.broken = true;
    }
    return this.z;
  }

  private drop(): void {
    this.z?.destroy();
    this.z = undefined;
    this.broken = true;
  }
}

function noop(): void {}
