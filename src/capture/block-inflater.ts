// Decompressing brotli blocks into buffers that are used again for the next block.
//
// brotliDecompressSync makes a decompressor and a new output buffer (and one spare) for every block: a
// 50 M-event capture has thousands of 32 KiB blocks, and that garbage waits for V8 to collect it (it
// counts external memory loosely), which showed as 20 MiB or more of peak RSS when reading one. Here one
// long-lived decompressor writes each block into a buffer kept per nesting level of the decoder (a block
// may be decoded from inside another one's records, see decoder.ts), reset between blocks.
//
// Node has no public API for a synchronous decompression into a given buffer: zlib-handle.ts drives the
// decompressor's handle. Where it cannot (another Node, damaged data), decompress() returns undefined and
// the decoder uses brotliDecompressSync, which also says what is wrong with a damaged block: the results
// are the same either way.

import { createBrotliDecompress } from 'node:zlib';
import { ZlibHandle } from './zlib-handle.js';

export class BlockInflater {
  private readonly z = new ZlibHandle(() => createBrotliDecompress(), ['reset']);
  private readonly outs: Uint8Array[] = [];

  /**
   * The `rawLen` bytes `stored` decompresses to, in a buffer that the next call with the same `depth`
   * overwrites; undefined when this path cannot tell (then decompress the ordinary way).
   */
  decompress(stored: Uint8Array, rawLen: number, depth: number): Uint8Array | undefined {
    // One byte more than announced: a block that decompresses to more is told apart from an exact one.
    const room = rawLen + 1;
    let out = this.outs[depth];
    if (out === undefined || out.length < room) {
      // Rounded up to 64 KiB: packs are up to 256 KiB (compress.ts, PACK_BYTES; 1 MiB in captures of rounds
      // thirteen and fourteen, 1 MiB and up to a block more before), each a few bytes longer or shorter than
      // the one before; sized to each new longest, the buffer was made again (and the last one left to the
      // collector, in malloc's heap) every few hundred blocks.
      out = new Uint8Array(Math.ceil(room / (64 << 10)) * (64 << 10));
      this.outs[depth] = out;
    }
    if (!this.z.finish(stored, out, room)) return undefined;
    const produced = room - this.z.outLeft;
    const inputLeft = this.z.inputLeft;
    this.z.reset();
    return produced === rawLen && inputLeft === 0 ? out.subarray(0, rawLen) : undefined;
  }
}
