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
