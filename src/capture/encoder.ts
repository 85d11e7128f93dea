// CaptureWriter: produces capture bytes the way the agent writes them (docs/capture-format.md, including the
// "Writer rules" section, which fixes every choice the format leaves to a writer). memlens uses it to
// append an EXIT record after the program ended; tests, fixtures and benchmarks use it to make captures.
// Output is deterministic: the same calls give the same bytes.

import { brotliCompressSync, constants as zlibConstants, crc32, deflateRawSync } from 'node:zlib';
import {
  ALLOC_ABS_ADDR,
  ALLOC_BIT,
  ALLOC_SAME_STACK,
  ALLOC_SEQ1,
  BLOCK_FLAG_BROTLI,
  BLOCK_FLAG_DEFLATE,
  BLOCK_HEADER_LEN,
  BLOCK_KIND_RECORDS,
  BLOCK_SYNC,
  FREE_ABS_ADDR,
  FREE_HAS_SIZE,
  FREE_SEQ1,
  FREE_TAG,
  MAX_BLOCK_PAYLOAD,
  MIN_READER_VERSION,
  OPTION_NATIVE,
  PARENT_DELTA_VERSION,
  SLOT_ADDRESS_VERSION,
  ADDR_REF_VERSION,
  STREAM_SERVICE,
} from './format.js';
import { SlotAddressWriter } from './address-slots.js';
import { BlockDeflater, declareFastWindow, FAST_LGWIN, FAST_MAX_QUALITY, fastWindowHolds } from './block-deflater.js';
import { encodeHeader, makeHeader, type HeaderInput } from './header.js';
import { encodeMetaPayload, recordTypeOf } from './meta.js';
import type { MetaRecord } from './records.js';
import { ByteWriter, varintLength } from './varint.js';

/** The most bytes an ALLOC or FREE record takes (type byte and five varints of safe integers). */
export const MAX_HOT_RECORD_LEN = 1 + 5 * 8;
/** The same in version 3: a whole address comes after a one-byte slot field. */
export const MAX_HOT_RECORD_LEN_SLOTTED = MAX_HOT_RECORD_LEN + 1;
/** The agent's block size before compression. */
export const DEFAULT_BLOCK_SIZE = 32 * 1024;

export interface CaptureWriterOptions {
  /** The file header; without it no header is written (blocks to append to an existing capture). */
  readonly header?: HeaderInput;
  /** Whether ALLOC records carry a native stack; by default the header's OPTION_NATIVE bit. */
  readonly nativeStacks?: boolean;
  /** Payload bytes after which a stream's block is closed (default 32 KiB, as the agent). */
  readonly blockSize?: number;
  /** Deflate level for block payloads (compress.ts); undefined: blocks are stored uncompressed. */
  readonly compressLevel?: number;
  /**
   * Code addresses against slots (format version 3); by default when the header's min_reader_version is 3
   * or more (without a header: MIN_READER_VERSION's choice, this version's).
   */
  readonly slotAddresses?: boolean;
}

interface OpenBlock {
  readonly stream: number;
  readonly w: ByteWriter;
  baseSeq: number;
  events: number;
  seq: number;
  addr: number;
  stack: number;
  native: number;
  /** The last seq of the stream's previous blocks: base_seq of a block without events. */
  lastSeq: number;
  frames: number;
  natives: number;
  /** Version 3's address state of the block. */
  readonly slots: SlotAddressWriter;
}

/** One brotli compressor for every block (block-deflater.ts), made at the first compressed block. */
let deflater: BlockDeflater | undefined;

export interface BlockEncodeOptions {
  readonly kind?: number;
  /** Compress the payload: deflate level 0–9, or brotli quality 0–11 with `codec: 'brotli'`. */
  readonly compressLevel?: number | undefined;
  readonly codec?: 'deflate' | 'brotli' | undefined;
  /** Extra header bytes past the 32 this version knows (tests of forward compatibility). */
  readonly extraHeader?: Uint8Array;
  /**
   * The block may come back in a buffer that the next encodeBlock overwrites (a compressed brotli block: its
   * header written in front of the compressor's output, where it is): the caller uses it before then. A
   * new array for each block touches fresh memory, which the kernel zeroes page by page: behind a fast writer
   * (threads with Python's allocators traced) 23 of node's 337 ms (docs/benchmarks.md, "Node's CPU with
   * Python's allocators traced, round nine").
   */
  readonly transient?: boolean;
}

/**
 * Frames one block: the 32-byte header, then the payload, deflated when `compressLevel` is given and that
 * makes it smaller (otherwise stored as it is).
 */
export function encodeBlock(stream: number, baseSeq: number, payload: Uint8Array, options: BlockEncodeOptions = {}): Uint8Array {
  if (payload.length > MAX_BLOCK_PAYLOAD) throw new RangeError(`block payload of ${payload.length} bytes is above the limit of ${MAX_BLOCK_PAYLOAD}`);
  const extra = options.extraHeader ?? new Uint8Array(0);
  const headerLen = BLOCK_HEADER_LEN + extra.length;
  if (headerLen > 255) throw new RangeError('block header longer than 255 bytes');
  let stored = payload;
  let flags = 0;
  if (options.compressLevel !== undefined && payload.length > 0) {
    if (options.codec === 'brotli') {
      // A block is at most 16 MiB; the agent's are 32 KiB: a 64 KiB window sees all of one. The fast
      // qualities take 2^18 at least (brotli raises it), which sees all of a pack (compress.ts, PACK_BYTES).
      const fast = options.compressLevel <= FAST_MAX_QUALITY;
      const lgwin = payload.length <= 1 << 16 ? 16 : fast && payload.length <= 1 << FAST_LGWIN ? FAST_LGWIN : 24;
      // The deflater's buffer is copied into the block below, before the next call overwrites it; or, for a
      // transient block, the header goes in the room left in front of it.
      const headroom = options.transient === true ? headerLen : 0;
      let c = (deflater ??= new BlockDeflater()).compress(payload, options.compressLevel, lgwin, headroom);
      const inDeflater = c !== undefined;
      if (c === undefined) {
        const params = {
          [zlibConstants.BROTLI_PARAM_QUALITY]: options.compressLevel,
          [zlibConstants.BROTLI_PARAM_LGWIN]: lgwin,
          [zlibConstants.BROTLI_PARAM_SIZE_HINT]: payload.length,
        };
        const sync = brotliCompressSync(payload, { params });
        c = sync.length < payload.length ? sync : null;
      }
      // A longer payload at a fast quality is compressed with the window it needs and declares 2^18: a reader's
      // decoder then allocates 256 KiB for it rather than its size (block-deflater.ts, FAST_LGWIN).
      if (c !== null && fastWindowHolds(options.compressLevel, lgwin)) declareFastWindow(c, lgwin);
      if (c !== null && headroom > 0 && inDeflater) {
        return frame(new Uint8Array(c.buffer, c.byteOffset - headroom, headroom + c.length), BLOCK_FLAG_BROTLI, headerLen, stream, baseSeq, c, payload.length, extra, options.kind);
      }
      if (c !== null) {
        stored = c;
        flags |= BLOCK_FLAG_BROTLI;
      }
    } else {
      const c = deflateRawSync(payload, { level: options.compressLevel });
      if (c.length < payload.length) {
        stored = c;
        flags |= BLOCK_FLAG_DEFLATE;
      }
    }
  }
  const out = new Uint8Array(headerLen + stored.length);
  out.set(stored, headerLen);
  return frame(out, flags, headerLen, stream, baseSeq, out.subarray(headerLen), payload.length, extra, options.kind);
}

/** Writes a block's header into out[0, headerLen), in front of its stored payload `stored` (out's tail); returns `out`. */
function frame(out: Uint8Array, flags: number, headerLen: number, stream: number, baseSeq: number, stored: Uint8Array, rawLen: number, extra: Uint8Array, kind = BLOCK_KIND_RECORDS): Uint8Array {
  const dv = new DataView(out.buffer, out.byteOffset, headerLen);
  out.set(BLOCK_SYNC, 0);
  out[4] = flags;
  out[5] = headerLen;
  dv.setUint16(6, kind, true);
  dv.setUint32(8, stored.length, true);
  dv.setUint32(12, rawLen, true);
  dv.setUint32(20, stream >>> 0, true);
  dv.setUint32(24, (baseSeq % 4294967296) >>> 0, true);
  dv.setUint32(28, Math.floor(baseSeq / 4294967296) >>> 0, true);
  out.set(extra, BLOCK_HEADER_LEN);
  let crc = crc32(out.subarray(4, 16));
  crc = crc32(out.subarray(20, headerLen), crc);
  crc = crc32(stored, crc);
  dv.setUint32(16, crc, true);
  return out;
}

export class CaptureWriter {
  private readonly streams = new Map<number, OpenBlock>();
  private readonly out: Uint8Array[] = [];
  private outLen = 0;
  private readonly native: boolean;
  private readonly blockSize: number;
  private readonly compressLevel: number | undefined;
  private readonly slotted: boolean;
  /** Addresses as references too (ADDR_REF_VERSION), by the header's min_reader_version. */
  private readonly refs: boolean;
  /** FRAME and NATIVE_FRAME parents against their node's id (PARENT_DELTA_VERSION), by the header's min_reader_version. */
  private readonly parentDeltas: boolean;
  private readonly hotMax: number;
  private readonly scratch = new ByteWriter(256);
  /** Blocks written so far. */
  blocks = 0;
  /** Bytes taken by ALLOC and FREE records so far (for the measured record size). */
  hotBytes = 0;

  constructor(options: CaptureWriterOptions = {}) {
    this.native = options.nativeStacks ?? ((options.header?.options ?? 0) & OPTION_NATIVE) !== 0;
    this.blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    if (this.blockSize < 64 || this.blockSize > MAX_BLOCK_PAYLOAD) throw new RangeError(`block size ${this.blockSize} is not in [64, ${MAX_BLOCK_PAYLOAD}]`);
    this.compressLevel = options.compressLevel;
    const minReader = options.header !== undefined ? makeHeader(options.header).minReaderVersion : MIN_READER_VERSION;
    this.slotted = options.slotAddresses ?? minReader >= SLOT_ADDRESS_VERSION;
    this.parentDeltas = minReader >= PARENT_DELTA_VERSION;
    this.refs = this.slotted && minReader >= ADDR_REF_VERSION;
    this.hotMax = this.slotted ? MAX_HOT_RECORD_LEN_SLOTTED : MAX_HOT_RECORD_LEN;
    if (options.header !== undefined) this.push(encodeHeader(options.header));
  }

  private push(bytes: Uint8Array): void {
    this.out.push(bytes);
    this.outLen += bytes.length;
  }

  /** Bytes of finished output not yet taken. */
  get pendingBytes(): number {
    return this.outLen;
  }

  private open(stream: number): OpenBlock {
    let b = this.streams.get(stream);
    if (b === undefined) {
      b = { stream, w: new ByteWriter(1024), baseSeq: 0, events: 0, seq: 0, addr: 0, stack: 0, native: 0, lastSeq: 0, frames: 0, natives: 0, slots: new SlotAddressWriter(this.refs) };
      this.streams.set(stream, b);
    }
    return b;
  }

  /** Prepares `b` for an event with this seq: room for the record, base_seq, seq order within the block. */
  private eventBlock(stream: number, seq: number, address: number): OpenBlock {
    if (!(Number.isSafeInteger(seq) && seq >= 0 && Number.isSafeInteger(address) && address >= 0)) {
      throw new RangeError(`seq ${seq} or address ${address} is not an integer in [0, 2^53 - 1]`);
    }
    const b = this.open(stream);
    if (b.w.length > 0 && (b.w.length + this.hotMax > this.blockSize || (b.events > 0 && seq < b.seq))) this.closeBlock(b);
    if (b.events === 0) {
      b.baseSeq = Math.max(0, seq - 1);
      b.seq = b.baseSeq;
    }
    b.events++;
    return b;
  }

  private address(w: ByteWriter, b: OpenBlock, address: number, free: boolean): boolean {
    if (this.slotted) return b.slots.write(w, address, free);
    const diff = address - b.addr;
    b.addr = address;
    if (diff % 8 !== 0) {
      w.varint(address);
      return true;
    }
    w.svarint(diff / 8);
    return false;
  }

  alloc(stream: number, seq: number, address: number, size: number, allocator: number, stack: number, nativeStack: number): void {
    if (!this.native && nativeStack !== 0) throw new RangeError('native stack given but the capture has no native stacks (header option 1)');
    const b = this.eventBlock(stream, seq, address);
    const w = b.w;
    const at = w.length;
    w.u8(0);
    let t = ALLOC_BIT | ((allocator & 15) << 3);
    const delta = seq - b.seq;
    b.seq = seq;
    if (delta === 1) t |= ALLOC_SEQ1;
    else w.varint(delta);
    if (this.address(w, b, address, false)) t |= ALLOC_ABS_ADDR;
    w.varint(size);
    if (stack === b.stack) t |= ALLOC_SAME_STACK;
    else {
      w.svarint(stack - b.stack);
      b.stack = stack;
    }
    if (this.native) {
      w.svarint(nativeStack - b.native);
      b.native = nativeStack;
    }
    w.buf[at] = t;
    this.hotBytes += w.length - at;
  }

  free(stream: number, seq: number, address: number, size: number, deallocator: number): void {
    const b = this.eventBlock(stream, seq, address);
    const w = b.w;
    const at = w.length;
    w.u8(0);
    let t = FREE_TAG | ((deallocator & 3) << 3);
    const delta = seq - b.seq;
    b.seq = seq;
    if (delta === 1) t |= FREE_SEQ1;
    else w.varint(delta);
    if (this.address(w, b, address, true)) t |= FREE_ABS_ADDR;
    if (size !== 0) {
      t |= FREE_HAS_SIZE;
      w.varint(size);
    }
    w.buf[at] = t;
    this.hotBytes += w.length - at;
  }

  /**
   * Writes a length-prefixed record into its stream. FRAME and NATIVE_FRAME ids are implicit in the format:
   * the record's `id` must be the stream's next one (frame() and nativeFrame() pick it for you).
   */
  meta(rec: MetaRecord): void {
    const b = this.open(rec.stream);
    if (rec.type === 'frame' && rec.id !== b.frames + 1) throw new RangeError(`FRAME id ${rec.id} of stream ${rec.stream}: the next id is ${b.frames + 1}`);
    if (rec.type === 'native-frame' && rec.id !== b.natives + 1) {
      throw new RangeError(`NATIVE_FRAME id ${rec.id} of stream ${rec.stream}: the next id is ${b.natives + 1}`);
    }
    const t = recordTypeOf(rec);
    if (!(t >= 1 && t <= 63)) throw new RangeError(`record type ${t} is not in [1, 63]`);
    const s = this.scratch;
    s.reset();
    encodeMetaPayload(rec, s, this.parentDeltas);
    const len = s.length;
    const total = 1 + varintLength(len) + len;
    if (total > MAX_BLOCK_PAYLOAD) throw new RangeError(`a ${rec.type} record of ${total} bytes does not fit in a block`);
    if (b.w.length > 0 && b.w.length + total > this.blockSize) this.closeBlock(b);
    b.w.u8(t);
    b.w.varint(len);
    b.w.raw(s.bytes());
    if (rec.type === 'frame') b.frames++;
    else if (rec.type === 'native-frame') b.natives++;
    else if (rec.type === 'stack-reset') {
      b.frames = 0;
      b.natives = 0;
    }
  }

  /** Defines the next Python stack node of `stream` and returns its id. */
  frame(stream: number, parent: number, codeId: number, instr: number): number {
    const id = this.open(stream).frames + 1;
    this.meta({ type: 'frame', stream, id, parent, codeId, instr });
    return id;
  }

  /** Defines the next native stack node of `stream` and returns its id. */
  nativeFrame(stream: number, parent: number, ip: number): number {
    const id = this.open(stream).natives + 1;
    this.meta({ type: 'native-frame', stream, id, parent, ip });
    return id;
  }

  /** Closes the open block of `stream`, if it has records. */
  flush(stream: number): void {
    const b = this.streams.get(stream);
    if (b !== undefined) this.closeBlock(b);
  }

  /** Closes every open block, in ascending stream order. */
  flushAll(): void {
    for (const id of [...this.streams.keys()].sort((a, b) => a - b)) this.flush(id);
  }

  /**
   * A flush round as the agent's service thread does it: close every thread's block, then write
   * BARRIER(seq) on the service stream and close that block. `seq` must be above every event written so far.
   */
  barrier(seq: number): void {
    for (const id of [...this.streams.keys()].sort((a, b) => a - b)) if (id !== STREAM_SERVICE) this.flush(id);
    this.meta({ type: 'barrier', stream: STREAM_SERVICE, seq });
    this.flush(STREAM_SERVICE);
  }

  /** Appends raw bytes to the output (tests of damaged and foreign data). */
  raw(bytes: Uint8Array): void {
    this.push(bytes.slice());
  }

  private closeBlock(b: OpenBlock): void {
    if (b.w.length === 0) return;
    const base = b.events > 0 ? b.baseSeq : b.lastSeq;
    this.push(encodeBlock(b.stream, base, b.w.bytes(), { compressLevel: this.compressLevel }));
    this.blocks++;
    if (b.events > 0) b.lastSeq = b.seq;
    b.w.reset();
    b.events = 0;
    b.addr = 0;
    b.slots.reset();
    b.stack = 0;
    b.native = 0;
    b.seq = b.lastSeq;
  }

  /** The output finished so far (header and closed blocks), and forgets it. */
  take(): Uint8Array {
    const all = concat(this.out, this.outLen);
    this.out.length = 0;
    this.outLen = 0;
    return all;
  }

  /** Closes every block and returns the rest of the output. */
  finish(): Uint8Array {
    this.flushAll();
    return this.take();
  }
}

export function concat(parts: readonly Uint8Array[], total = parts.reduce((n, p) => n + p.length, 0)): Uint8Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Blocks holding `records`, to append to an existing capture (no file header): how memlens adds the EXIT
 * record (stream STREAM_MEMLENS) after the profiled program ended.
 */
export function encodeAppendix(records: readonly MetaRecord[]): Uint8Array {
  const w = new CaptureWriter();
  for (const r of records) w.meta(r);
  return w.finish();
}
