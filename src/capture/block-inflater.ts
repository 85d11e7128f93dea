// Decompressing brotli blocks into buffers that are used again for the next block.
//
// brotliDecompressSync makes a decompressor and a new output buffer (and one spare) for every block: a
// 50 M-event capture has thousands of 32 KiB blocks, and that garbage waits for V8 to collect it (it
// counts external memory loosely), which showed as 20 MiB or more of peak RSS when reading one. Here one
// long-lived decompressor writes each block into a buffer kept per nesting level of the decoder (a block
// may be decoded from inside another one's records, see decoder.ts), reset between blocks.
//
// Node has no public API for a synchronous decompression into a given buffer, so this drives the
// decompressor's native handle the way node:zlib's own synchronous path does (writeSync, then the
// output and input left in _writeState). Where that handle is not there or fails (another Node, damaged
// data), decompress() returns undefined and the decoder uses brotliDecompressSync, which also says what
// is wrong with a damaged block: the results are the same either way.

import { type BrotliDecompress, constants, createBrotliDecompress } from 'node:zlib';

interface NativeHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  reset(): void;
}

interface Internals {
  readonly _handle?: NativeHandle | null;
  readonly _writeState?: Uint32Array;
}

export class BlockInflater {
  private z: (BrotliDecompress & Internals) | undefined;
  private broken = false;
  private readonly outs: Uint8Array[] = [];

  /**
   * The `rawLen` bytes `stored` decompresses to, in a buffer that the next call with the same `depth`
   * overwrites; undefined when this path cannot tell (then decompress the ordinary way).
   */
  decompress(stored: Uint8Array, rawLen: number, depth: number): Uint8Array | undefined {
    const z = this.handle();
    const handle = z?._handle;
    const state = z?._writeState;
    if (z === undefined || handle === undefined || handle === null || state === undefined) return undefined;
    // One byte more than announced: a block that decompresses to more is told apart from an exact one.
    const room = rawLen + 1;
    let out = this.outs[depth];
    if (out === undefined || out.length < room) {
      out = new Uint8Array(Math.max(room, 64 << 10));
      this.outs[depth] = out;
    }
    try {
      handle.writeSync(constants.BROTLI_OPERATION_FINISH, stored, 0, stored.length, out, 0, room);
    } catch {
      this.drop();
      return undefined;
    }
    if (z.destroyed) {
      // The data was bad: node:zlib closed the handle (its 'error' event is ignored below).
      this.z = undefined;
      return undefined;
    }
    const produced = room - state[0]!;
    const inputLeft = state[1]!;
    handle.reset();
    return produced === rawLen && inputLeft === 0 ? out.subarray(0, rawLen) : undefined;
  }

  private handle(): (BrotliDecompress & Internals) | undefined {
    if (this.z !== undefined || this.broken) return this.z;
    try {
      const z = createBrotliDecompress() as BrotliDecompress & Internals;
      z.on('error', () => undefined);
      if (typeof z._handle?.writeSync !== 'function' || typeof z._handle.reset !== 'function' || !(z._writeState instanceof Uint32Array)) {
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
