// Test helpers: a visitor that collects everything it is given as plain values, and a re-encoder that
// writes a decoded capture back with CaptureWriter, block by block.

import { CaptureWriter } from '../../src/capture/encoder.js';
import type { BlockInfo, CaptureHeader, CaptureVisitor, DecodeWarning, MetaRecord } from '../../src/capture/records.js';

export type Item =
  | { readonly type: 'alloc'; stream: number; seq: number; address: number; size: number; allocator: number; stack: number; nativeStack: number }
  | { readonly type: 'free'; stream: number; seq: number; address: number; size: number; deallocator: number }
  | MetaRecord;

export interface Collected {
  header: CaptureHeader | undefined;
  items: Item[];
  warnings: DecodeWarning[];
  blocks: BlockInfo[];
  /** For each item, the index of the block it came from. */
  blockOf: number[];
}

export class Collector implements CaptureVisitor {
  readonly c: Collected = { header: undefined, items: [], warnings: [], blocks: [], blockOf: [] };
  header(h: CaptureHeader): void {
    this.c.header = h;
  }
  block(b: BlockInfo): void {
    this.c.blocks.push(b);
  }
  alloc(stream: number, seq: number, address: number, size: number, allocator: number, stack: number, nativeStack: number): void {
    this.c.items.push({ type: 'alloc', stream, seq, address, size, allocator, stack, nativeStack });
    this.c.blockOf.push(this.c.blocks.length - 1);
  }
  free(stream: number, seq: number, address: number, size: number, deallocator: number): void {
    this.c.items.push({ type: 'free', stream, seq, address, size, deallocator });
    this.c.blockOf.push(this.c.blocks.length - 1);
  }
  meta(record: MetaRecord): void {
    this.c.items.push(record);
    this.c.blockOf.push(this.c.blocks.length - 1);
  }
  warning(w: DecodeWarning): void {
    this.c.warnings.push(w);
  }
}

/**
 * A Collector that takes FRAMEs as numbers (CaptureVisitor.frame), collected as the FrameRecord meta() would
 * get; `asNumbers` counts them (the ones that came through meta() instead are not counted).
 */
export class FrameCollector extends Collector {
  asNumbers = 0;
  frame(stream: number, id: number, parent: number, codeId: number, instr: number): void {
    this.asNumbers++;
    this.meta({ type: 'frame', stream, id, parent, codeId, instr });
  }
}

/** Writes one item with a CaptureWriter. */
export function writeItem(w: CaptureWriter, it: Item): void {
  if (it.type === 'alloc') w.alloc(it.stream, it.seq, it.address, it.size, it.allocator, it.stack, it.nativeStack);
  else if (it.type === 'free') w.free(it.stream, it.seq, it.address, it.size, it.deallocator);
  else w.meta(it);
}

/** Encodes a decoded capture again, one block per decoded block (uncompressed blocks unless a level is given). */
export function reencode(c: Collected, compressLevel?: number): Uint8Array {
  const w = new CaptureWriter({ ...(c.header !== undefined ? { header: c.header } : {}), ...(compressLevel !== undefined ? { compressLevel } : {}) });
  let current = -1;
  for (let i = 0; i < c.items.length; i++) {
    const b = c.blockOf[i] ?? -1;
    if (b !== current) {
      const prev = c.blocks[current];
      if (prev !== undefined) w.flush(prev.stream);
      current = b;
    }
    writeItem(w, c.items[i] as Item);
  }
  return w.finish();
}

/** A visitor that keeps only counts and a running hash of everything it is given: for comparing
 * captures of millions of events, where a Collector would hold them all. */
export class Digest implements CaptureVisitor {
  allocs = 0;
  frees = 0;
  metas = 0;
  warnings = 0;
  private h = 0x811c9dc5;
  private mix(n: number): void {
    // FNV-1a over the number's low and high 32 bits.
    for (const part of [n >>> 0, Math.floor(n / 2 ** 32) >>> 0]) {
      this.h = Math.imul(this.h ^ part, 0x01000193) >>> 0;
    }
  }
  header(): void {}
  alloc(stream: number, seq: number, address: number, size: number, allocator: number, stack: number, nativeStack: number): void {
    this.allocs++;
    for (const n of [1, stream, seq, address, size, allocator, stack, nativeStack]) this.mix(n);
  }
  free(stream: number, seq: number, address: number, size: number, deallocator: number): void {
    this.frees++;
    for (const n of [2, stream, seq, address, size, deallocator]) this.mix(n);
  }
  meta(record: MetaRecord): void {
    this.metas++;
    const text = JSON.stringify(record, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Array.from(v) : v));
    for (let i = 0; i < text.length; i++) this.mix(text.charCodeAt(i));
  }
  warning(): void {
    this.warnings++;
  }
  get summary(): { allocs: number; frees: number; metas: number; warnings: number; hash: number } {
    return { allocs: this.allocs, frees: this.frees, metas: this.metas, warnings: this.warnings, hash: this.h };
  }
}

/**
 * A Digest per stream: what recompression must keep when it merges blocks (each stream's records in their
 * order; a stream's records may move earlier in the file than another's, src/capture/merge.ts).
 */
export class StreamDigests implements CaptureVisitor {
  private readonly by = new Map<number, Digest>();
  private warnings = 0;
  private of(stream: number): Digest {
    let d = this.by.get(stream);
    if (d === undefined) {
      d = new Digest();
      this.by.set(stream, d);
    }
    return d;
  }
  header(): void {}
  alloc(stream: number, seq: number, address: number, size: number, allocator: number, stack: number, nativeStack: number): void {
    this.of(stream).alloc(stream, seq, address, size, allocator, stack, nativeStack);
  }
  free(stream: number, seq: number, address: number, size: number, deallocator: number): void {
    this.of(stream).free(stream, seq, address, size, deallocator);
  }
  meta(record: MetaRecord): void {
    this.of(record.stream).meta(record);
  }
  warning(): void {
    this.warnings++;
  }
  get summary(): { warnings: number; streams: [number, Digest['summary']][] } {
    return { warnings: this.warnings, streams: [...this.by].sort((a, b) => a[0] - b[0]).map(([s, d]) => [s, d.summary]) };
  }
}
