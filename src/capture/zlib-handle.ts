// One synchronous brotli call into a caller's buffer, through the native handle of a long-lived node:zlib
// stream: what block-deflater.ts and block-inflater.ts both need, and node has no public API for.
//
// It drives the handle the way node:zlib's own constructor and synchronous path do (init with the
// parameters, writeSync, then the output and input left in _writeState, reset). All of node's undocumented
// internals that memlens touches are here: where they are not there or fail (another Node), finish()
// returns false once and for all, and the callers use brotliCompressSync / brotliDecompressSync instead,
// which give the same bytes.

import { constants } from 'node:zlib';

interface NativeHandle {
  /** false when the parameters were refused (Node 20 returns nothing on success). */
  init?(params: Uint32Array, writeState: Uint32Array, processCallback: () => void): boolean | undefined;
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  reset?(): void;
}

/** A node:zlib stream as far as this module looks into it. */
export interface ZlibStream {
  readonly _handle?: NativeHandle | null;
  readonly _writeState?: Uint32Array;
  readonly destroyed: boolean;
  on(event: 'error', listener: () => void): unknown;
  destroy(): unknown;
}

/** node:zlib's value for "parameter not set" in the array the handle's init() reads. */
export const UNSET_PARAM = 0xffffffff;

export class ZlibHandle {
  private z: ZlibStream | undefined;
  private broken = false;
  /** After a finish() that returned true: the room left in the output, and the input not consumed. */
  outLeft = 0;
  inputLeft = 0;

  /** `make`: a new stream (createBrotliCompress or createBrotliDecompress); `uses`: the handle's methods needed besides writeSync. */
  constructor(
    private readonly make: () => ZlibStream,
    private readonly uses: readonly ('init' | 'reset')[],
  ) {}

  /**
   * `input` run through to its end into out[at, at + room); with `params`, the handle's state is made again with
   * them first (a compressor's new encoder state, as brotliCompressSync makes). True: outLeft and inputLeft
   * say what came of it. False: this path cannot tell (no handle, a failure, or data node:zlib refused and
   * closed the stream on): use the public API.
   */
  finish(input: Uint8Array, out: Uint8Array, room: number, params?: Uint32Array, at = 0): boolean {
    const z = this.stream();
    const handle = z?._handle;
    const state = z?._writeState;
    if (z === undefined || handle === undefined || handle === null || state === undefined) return false;
    try {
      if (params !== undefined && handle.init!(params, state, noop) === false) {
        this.drop();
        return false;
      }
      handle.writeSync(constants.BROTLI_OPERATION_FINISH, input, 0, input.length, out, at, room);
    } catch {
      this.drop();
      return false;
    }
    if (z.destroyed) {
      // The data was bad: node:zlib closed the handle (its 'error' event is ignored below); a new one next time.
      this.z = undefined;
      return false;
    }
    this.outLeft = state[0]!;
    this.inputLeft = state[1]!;
    return true;
  }

  /** The handle's state made new (a decompressor's, between blocks). */
  reset(): void {
    this.z?._handle?.reset?.();
  }

  private stream(): ZlibStream | undefined {
    if (this.z !== undefined || this.broken) return this.z;
    try {
      const z = this.make();
      z.on('error', () => undefined);
      const h = z._handle;
      if (typeof h?.writeSync !== 'function' || this.uses.some((m) => typeof h[m] !== 'function') || !(z._writeState instanceof Uint32Array)) {
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
