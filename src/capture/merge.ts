// Merging small blocks of a capture into larger ones, for the recompressor (compress.ts).
//
// Why: the agent flushes every stream at least every 10 ms, so a program that allocates little writes many
// blocks of a few hundred bytes to a few KiB. Compressed one by one, each costs its 32-byte header and a
// brotli stream that starts with nothing learnt: on a short run (bench/workloads/objects.py) that made the
// file 40 % larger than the same records compressed in blocks of 64 KiB (docs/benchmarks.md, "Capture
// size"). Merging the small blocks of each stream gives the compressor something to work with.
//
// How, within the format's rules (docs/capture-format.md):
// - Delta state (seq, address, stacks) restarts at every block, so the ALLOC and FREE records of a merged
//   block are encoded again, against the merged block's state, by the writer rules; every other record is
//   copied as it is. Values are unchanged: a reader gets the same records of each stream in the same order.
// - A stream's records stay in their order. Records of a thread's stream may move earlier in the file
//   (their merged block is written when it is full or when the service stream's is), never later than a
//   BARRIER that followed them: before the service stream's merged block (which holds the barriers) is
//   written, every other stream's pending block is. A BARRIER still follows every event with a lower seq.
// - Only blocks this writer knows completely are merged: records blocks, uncompressed, with a 32-byte
//   header, smaller than SMALL_BLOCK, whose records all parse. Anything else (a full block, a compressed
//   one, an unknown kind, a record that does not parse, damage, a cut tail) is passed on as it is, after
//   everything pending, so that it keeps its place.
// - A block in which seq would go backwards (allowed between blocks, not within one) starts a new one.

import {
  ALLOC_ABS_ADDR,
  ALLOC_BIT,
  ALLOC_SAME_STACK,
  ALLOC_SEQ1,
  BLOCK_HEADER_LEN,
  BLOCK_KIND_RECORDS,
  FREE_ABS_ADDR,
  FREE_HAS_SIZE,
  FREE_MASK,
  FREE_SEQ1,
  FREE_TAG,
  STREAM_MEMLENS,
  STREAM_SERVICE,
} from './format.js';
import { SlotAddressReader, SlotAddressWriter } from './address-slots.js';
import type { BlockInfo } from './records.js';
import { ByteWriter, zigzagDecode, zigzagEncode } from './varint.js';

/** Blocks with fewer raw bytes than this are merged; larger ones compress well enough alone. */
export const SMALL_BLOCK = 16 * 1024;
/** A merged block is written once it holds this many bytes (brotli's 64 KiB window sees all of it). */
export const MERGED_BLOCK = 64 * 1024;
/** Every pending block is written once they hold this many bytes together (many threads). */
export const MERGE_PENDING_MAX = 1 << 20;

const MAX = Number.MAX_SAFE_INTEGER;

export interface MergedBlock {
  readonly stream: number;
  readonly baseSeq: number;
  readonly payload: Uint8Array;
}

interface Pending {
  readonly stream: number;
  readonly w: ByteWriter;
  baseSeq: number;
  /** The merged block's delta state (writer side). */
  seq: number;
  addr: number;
  stack: number;
  native: number;
  /** Whether an event was written (base_seq of a block without events is the first block's). */
  events: number;
  /** Version 3's address state of the merged block. */
  readonly slots: SlotAddressWriter;
}

/** Thrown inside transcode(): the block is passed on unmerged. */
const NOT_MERGEABLE = new Error('not mergeable');

let vpos = 0;
function varintAt(b: Uint8Array, p: number, end: number): number {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (p >= end) throw NOT_MERGEABLE;
    const x = b[p++]!;
    v += (x & 0x7f) * mul;
    if ((x & 0x80) === 0) {
      if (v > MAX) throw NOT_MERGEABLE;
      vpos = p;
      return v;
    }
    mul *= 128;
  }
  throw NOT_MERGEABLE;
}

export class BlockMerger {
  private readonly pending = new Map<number, Pending>();
  /** Streams in the order their pending block was opened (the order they are written in). */
  private order: number[] = [];
  private readonly scratch = new ByteWriter(SMALL_BLOCK * 2);
  private readonly slotsIn = new SlotAddressReader();
  private readonly slotsSaved = new SlotAddressWriter();
  /** Raw bytes pending, all streams together. */
  private held = 0;

  /**
   * `native`: the capture's ALLOC records carry a native stack (header option 1). `slotted`: its addresses
   * are coded against slots (min_reader_version 3 and later).
   */
  constructor(
    private readonly native: boolean,
    private readonly emit: (block: MergedBlock) => void,
    private readonly slotted = false,
  ) {}

  /**
   * Takes a whole, good block (`bytes`: header and stored payload). Returns false when the block is not one
   * to merge: the caller then writes it itself, after calling flushAll().
   */
  add(info: BlockInfo, bytes: Uint8Array): boolean {
    // memlens's own stream (EXIT, appended after the program ended) stays where it is: at the end.
    if (info.kind !== BLOCK_KIND_RECORDS || info.flags !== 0 || info.headerLen !== BLOCK_HEADER_LEN || info.rawLen >= SMALL_BLOCK || info.stream === STREAM_MEMLENS) {
      return false;
    }
    const payload = bytes.subarray(info.headerLen, info.headerLen + info.storedLen);
    let p = this.pending.get(info.stream);
    if (p !== undefined && p.w.length + payload.length > MERGED_BLOCK) {
      this.flush(info.stream);
      p = undefined;
    }
    const fresh = p === undefined;
    if (p === undefined) {
      p = { stream: info.stream, w: new ByteWriter(MERGED_BLOCK + 256), baseSeq: info.baseSeq, seq: info.baseSeq, addr: 0, stack: 0, native: 0, events: 0, slots: new SlotAddressWriter() };
    }
    const w = this.scratch;
    w.reset();
    const saved = { seq: p.seq, addr: p.addr, stack: p.stack, native: p.native, events: p.events };
    this.slotsSaved.copyFrom(p.slots);
    let ok: boolean;
    try {
      ok = this.transcode(payload, info.baseSeq, p, w);
    } catch (e) {
      if (e !== NOT_MERGEABLE) throw e;
      ok = false;
    }
    if (!ok) {
      Object.assign(p, saved);
      p.slots.copyFrom(this.slotsSaved);
      if (fresh) {
        // Nothing of this stream is pending: a block that seq order or parsing keeps apart starts over.
        return false;
      }
      // Retry as the first block of a new merged block (seq went backwards across blocks).
      this.flush(info.stream);
      return this.add(info, bytes);
    }
    if (fresh) {
      this.pending.set(info.stream, p);
      this.order.push(info.stream);
    }
    p.w.raw(w.bytes());
    this.held += w.length;
    if (this.held >= MERGE_PENDING_MAX) this.flushAll();
    return true;
  }

  /**
   * Re-encodes the records of one block against `p`'s state into `w`. False when seq would go backwards
   * (the block must start a new merged block); throws NOT_MERGEABLE when a record does not parse.
   */
  private transcode(b: Uint8Array, baseSeq: number, p: Pending, w: ByteWriter): boolean {
    const end = b.length;
    let seq = baseSeq;
    let addr = 0;
    let stack = 0;
    let nstack = 0;
    let i = 0;
    this.slotsIn.reset();
    while (i < end) {
      const t = b[i++]!;
      if (t >= ALLOC_BIT || (t & FREE_MASK) === FREE_TAG) {
        const alloc = t >= ALLOC_BIT;
        if ((t & (alloc ? ALLOC_SEQ1 : FREE_SEQ1)) !== 0) seq += 1;
        else {
          seq += varintAt(b, i, end);
          i = vpos;
        }
        const wBit = (t & (alloc ? ALLOC_ABS_ADDR : FREE_ABS_ADDR)) !== 0;
        if (this.slotted) addr = this.slotsIn.read(varintAt(b, i, end), wBit, () => varintAt(b, vpos, end));
        else if (wBit) addr = varintAt(b, i, end);
        else addr += zigzagDecode(varintAt(b, i, end)) * 8;
        i = vpos;
        let size = 0;
        if (alloc || (t & FREE_HAS_SIZE) !== 0) {
          size = varintAt(b, i, end);
          i = vpos;
        }
        if (alloc && (t & ALLOC_SAME_STACK) === 0) {
          stack += zigzagDecode(varintAt(b, i, end));
          i = vpos;
        }
        if (alloc && this.native) {
          nstack += zigzagDecode(varintAt(b, i, end));
          i = vpos;
        }
        if (!(addr >= 0 && addr <= MAX && stack >= 0 && stack <= MAX && nstack >= 0 && nstack <= MAX && seq <= MAX)) throw NOT_MERGEABLE;
        if (seq < p.seq) return false;
        // Write it against the merged block's state (encoder.ts's writer rules).
        const at = w.length;
        w.u8(0);
        const delta = seq - p.seq;
        p.seq = seq;
        p.events++;
        let out = alloc ? ALLOC_BIT | (t & 0x78) : FREE_TAG | (t & 0x18);
        if (delta === 1) out |= alloc ? ALLOC_SEQ1 : FREE_SEQ1;
        else w.varint(delta);
        if (this.slotted) {
          if (p.slots.write(w, addr)) out |= alloc ? ALLOC_ABS_ADDR : FREE_ABS_ADDR;
        } else {
          const diff = addr - p.addr;
          p.addr = addr;
          if (diff % 8 !== 0) {
            w.varint(addr);
            out |= alloc ? ALLOC_ABS_ADDR : FREE_ABS_ADDR;
          } else w.varint(zigzagEncode(diff / 8));
        }
        if (alloc) {
          w.varint(size);
          if (stack === p.stack) out |= ALLOC_SAME_STACK;
          else {
            w.varint(zigzagEncode(stack - p.stack));
            p.stack = stack;
          }
          if (this.native) {
            w.varint(zigzagEncode(nstack - p.native));
            p.native = nstack;
          }
        } else if (size !== 0) {
          out |= FREE_HAS_SIZE;
          w.varint(size);
        }
        w.buf[at] = out;
      } else if (t >= 1 && t <= 63) {
        const len = varintAt(b, i, end);
        const stop = vpos + len;
        if (stop > end) throw NOT_MERGEABLE;
        w.raw(b.subarray(i - 1, stop));
        i = stop;
      } else {
        throw NOT_MERGEABLE;
      }
    }
    return true;
  }

  /** Writes the pending block of one stream (a thread's: it may go early; the service stream's: see flushAll). */
  private flush(stream: number): void {
    const p = this.pending.get(stream);
    if (p === undefined) return;
    if (stream === STREAM_SERVICE) {
      this.flushAll();
      return;
    }
    this.pending.delete(stream);
    this.held -= p.w.length;
    this.order = this.order.filter((s) => s !== stream);
    this.emit({ stream, baseSeq: p.baseSeq, payload: p.w.bytes() });
  }

  /** Writes every pending block: threads' first, the service stream's (with its barriers) last. */
  flushAll(): void {
    let service: Pending | undefined;
    for (const s of this.order) {
      const p = this.pending.get(s)!;
      if (s === STREAM_SERVICE) service = p;
      else this.emit({ stream: s, baseSeq: p.baseSeq, payload: p.w.bytes() });
    }
    if (service !== undefined) this.emit({ stream: STREAM_SERVICE, baseSeq: service.baseSeq, payload: service.w.bytes() });
    this.pending.clear();
    this.order = [];
    this.held = 0;
  }

  /** Raw bytes held, not yet written. */
  get pendingBytes(): number {
    return this.held;
  }
}
