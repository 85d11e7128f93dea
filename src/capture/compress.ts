// Recompression of a finished capture (`memlens run` does it after the program ended, unless
// --no-compress): every uncompressed block of records is compressed (brotli) on its own, so the result streams and
// survives truncation exactly like the original. Everything else is copied as it is: the header, blocks
// already compressed, blocks of unknown kinds, damaged regions, a partial block at the end.
//
// The level is chosen by measurement (docs/benchmarks.md, "Compression"): DEFAULT_COMPRESS_LEVEL.

import { BLOCK_FLAGS_COMPRESSED, BLOCK_HEADER_LEN, BLOCK_KIND_RECORDS, OPTION_NATIVE } from './format.js';
import { encodeBlock } from './encoder.js';
import { BlockFramer } from './framing.js';
import { BlockMerger, type MergedBlock } from './merge.js';

/** Brotli quality 5: on agent captures about a quarter smaller than deflate level 1, and as fast to write. */
export const DEFAULT_COMPRESS_LEVEL = 5;
export const DEFAULT_CODEC = 'brotli';

/**
 * Compressing a capture while it is written (`memlens run`): brotli quality 5 runs at about 45 MB/s, and a
 * program that churns Python objects under --trace-python-allocators writes 45 MB/s or more. Behind by
 * more than this, the follower switches to quality 1 (about 3.5 times faster, output about 20 % larger)
 * until it has caught up: it then competes less for the CPU with the program it follows, and leaves less to
 * do after the program ended, while the user waits. 1 MiB rather than more: measured on objects and threads
 * with Python allocators traced (docs/benchmarks.md, "Compression"), 8 MiB left the run 10-15 % slower
 * for files 5-10 % smaller.
 */
export const FOLLOW_FAST_LAG = 1 << 20;
export const FOLLOW_FAST_LEVEL = 1;

/** The brotli quality for the next block when `lagBytes` of the capture are written but not yet read. */
export function followLevel(lagBytes: number): number {
  return lagBytes >= FOLLOW_FAST_LAG ? FOLLOW_FAST_LEVEL : DEFAULT_COMPRESS_LEVEL;
}

export interface RecompressOptions {
  readonly level?: number;
  readonly codec?: 'deflate' | 'brotli';
  readonly source?: string;
  /** Merge small blocks of a stream before compressing them (merge.ts); default true. */
  readonly merge?: boolean;
}

export class Recompressor {
  private readonly framer: BlockFramer;
  private level: number;
  private readonly codec: 'deflate' | 'brotli';
  private merger: BlockMerger | undefined;
  bytesOut = 0;
  blocks = 0;
  compressedBlocks = 0;

  /** `sink` receives the output in order; each array is its own (the caller may keep it). */
  constructor(
    private readonly sink: (bytes: Uint8Array) => void,
    options: RecompressOptions = {},
  ) {
    this.codec = options.codec ?? DEFAULT_CODEC;
    this.level = options.level ?? (this.codec === 'brotli' ? DEFAULT_COMPRESS_LEVEL : 1);
    this.framer = new BlockFramer(
      {
        header: (h, bytes) => {
          if (options.merge !== false) this.merger = new BlockMerger((h.options & OPTION_NATIVE) !== 0, (b) => this.merged(b));
          this.out(bytes.slice());
        },
        block: (info, bytes) => {
          this.blocks++;
          if (this.merger?.add(info, bytes) === true) return;
          this.merger?.flushAll();
          if (info.kind !== BLOCK_KIND_RECORDS || info.flags !== 0) {
            this.out(bytes.slice());
            return;
          }
          const payload = bytes.subarray(info.headerLen);
          const framed = encodeBlock(info.stream, info.baseSeq, payload, {
            compressLevel: this.level,
            codec: this.codec,
            extraHeader: bytes.subarray(BLOCK_HEADER_LEN, info.headerLen),
          });
          if ((framed[4]! & BLOCK_FLAGS_COMPRESSED) !== 0) this.compressedBlocks++;
          this.out(framed);
        },
        damaged: () => undefined,
        skipped: (bytes) => {
          this.merger?.flushAll();
          this.out(bytes.slice());
        },
        truncated: (_offset, _info, bytes) => {
          this.merger?.flushAll();
          this.out(bytes.slice());
        },
      },
      options.source,
    );
  }

  private merged(b: MergedBlock): void {
    const framed = encodeBlock(b.stream, b.baseSeq, b.payload, { compressLevel: this.level, codec: this.codec });
    if ((framed[4]! & BLOCK_FLAGS_COMPRESSED) !== 0) this.compressedBlocks++;
    this.out(framed);
  }

  private out(bytes: Uint8Array): void {
    this.bytesOut += bytes.length;
    this.sink(bytes);
  }

  /** Input bytes taken into whole units so far (what is past it waits for the rest of its block). */
  get consumed(): number {
    return this.framer.position;
  }

  /** The level for the blocks completed from now on (the codec stays). */
  setLevel(level: number): void {
    this.level = level;
  }

  feed(chunk: Uint8Array): void {
    this.framer.feed(chunk);
  }

  end(): void {
    this.framer.end();
    this.merger?.flushAll();
  }
}

/** Recompresses a whole capture held in memory. */
export function recompressCapture(bytes: Uint8Array, options: RecompressOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const r = new Recompressor((b) => parts.push(b), options);
  r.feed(bytes);
  r.end();
  const out = new Uint8Array(r.bytesOut);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
