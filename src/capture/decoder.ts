// The streaming capture decoder: feed(chunk) any number of times with chunks cut anywhere, then end(). It
// calls a CaptureVisitor in file order. See docs/capture-format.md for the format and its robustness rules.
//
// Errors: only a bad file header throws (CaptureFormatError or UnsupportedVersionError): without it there
// is nothing to read. Everything after the header that is wrong becomes a DecodeWarning and the decoder
// goes on: a damaged block is skipped up to the next good one, a bad record ends its block, a cut file
// yields what was whole.
//
// Speed: ALLOC and FREE records are decoded by one loop over the block's payload with the position in a
// local variable and varints read inline; nothing is allocated per record. A whole address is read by
// wholeAt() into a Float64Array: in a report V8's inlining budget runs out before every varintAt() in the loop
// is inlined (src/util/report-flags.ts), and the result of one left a call is of any type to V8, which then
// kept `addr` as a tagged value and boxed every address computed into it, a heap number per event (numpy_mix,
// whose numpy buffers far from the heap have their addresses written whole: 1.0 GB of young garbage in
// `stats`, docs/benchmarks.md, "numpy_mix's reports, round nineteen"; then `+varintAt()`, whose call still
// boxed its own result). Read from the array, `addr` is a double whether wholeAt() is inlined or not.
// The loop reads at most 61 bytes past a record start without checking bounds, so the last 64 bytes of a
// payload are copied into a zero-padded scratch buffer first; a record that ran past the payload's end is
// noticed after the fact (p > end) and never reported.
//
// Deferred blocks: a visitor with a defer() method (the orderer) gets each block of a thread's stream
// undecoded and decodes it later, possibly from inside a visitor call of another block's records (a
// BARRIER releases what waited). records() is therefore re-entrant: each nesting level has its own
// scratch buffer, and the varint state is left clean on return.

import { brotliDecompressSync, inflateRawSync } from 'node:zlib';
import {
  ADDR_SLOTS,
  BLOCK_FLAG_BROTLI,
  BLOCK_FLAGS_COMPRESSED,
  BLOCK_KIND_GROUP,
  BLOCK_KIND_RECORDS,
  GROUP_FORMAT_VERSION,
  OPTION_NATIVE,
  PARENT_DELTA_VERSION,
  RecordType,
  SLOT_ADDRESS_VERSION,
  ADDR_REF_VERSION,
  STREAM_MEMLENS,
  STREAM_SERVICE,
} from './format.js';
import { BlockInflater } from './block-inflater.js';
import { BlockPool } from './block-pool.js';
import { BlockFramer } from './framing.js';
import { ungroup, ungroupEach, type GroupPart } from './group.js';
import { decodeMeta, FRAME_SCRATCH, frameFields } from './meta.js';
import { type BlockInfo, type CaptureHeader, type CaptureVisitor, type DecodeWarning, type DeferredBlock, STOP_BLOCK, eventAddress } from './records.js';
import { ByteReader, ReadError } from './varint.js';
import { outgrown } from '../util/outgrown.js';

export interface DecoderOptions {
  /** Names the data in error messages (the file name). */
  readonly source?: string;
  /**
   * Bytes of deferred copies waiting in the pool from which a pack's waiting parts keep the pack's stored
   * bytes instead (see PackedParts; default PACKED_FROM_BYTES; tests set 0).
   */
  readonly packedFrom?: number;
}

/**
 * 1 MiB of the pool's slabs busy with waiting copies: most waits stay below it (a 50 M-event capture's
 * second longest was 28 blocks, 0.9 MiB); a barrier that comes late (126 blocks, 4 MiB) goes past it, and
 * from there its packs wait as their stored bytes, a thirtieth of them. Each such pack is decompressed once
 * more, into a buffer kept from then on (1.1 MiB): from 512 KiB it was made at 15 % of that read rather
 * than at 65 %, for the same peak.
 */
export const PACKED_FROM_BYTES = 1 << 20;

/** Node id counters of one stream: FRAME and NATIVE_FRAME ids are implicit (1, 2, … per stream). */
interface StreamNodes {
  frames: number;
  natives: number;
}

const TAIL = 64;
/**
 * Nesting levels of records() whose small scratch arrays are made with the decoder: a group's parts are
 * decoded at levels 1 and 2, and a capture's plain blocks at level 0 may come only at its end (its last,
 * uncompressed blocks). Made there, lazily, they took a branch that V8 had no feedback for (it was taken only
 * in the first calls, before the function had a feedback vector) and deoptimized records() and its callers at
 * the end of a big read; recompiled then, on top of the read's largest moment (docs/benchmarks.md, "The end
 * of a read, round fifteen").
 */
const SCRATCH_LEVELS = 4;

/** A records block as records() sees it: one place makes them all, so that they have one shape in V8. */
function recordsInfo(offset: number, flags: number, headerLen: number, kind: number, storedLen: number, rawLen: number, stream: number, baseSeq: number): BlockInfo {
  return { offset, flags, headerLen, kind, storedLen, rawLen, stream, baseSeq };
}
// The first one made holds a stream id and a sequence number that are not small integers (memlens' own
// stream's id is 2^32 - 1, and the framer's sequence numbers are sums of two words), so that V8 keeps those
// fields as numbers of any size from the start: with small integers first (a group's parts), memlens' own
// plain blocks at a capture's end changed the shape and deoptimized recordsAt() there.
recordsInfo(0, 0, 0, 0, 0, 0, STREAM_MEMLENS, 2 ** 32 + 0.5);

/** A nesting level's scratch for a payload's tail, and for its slots' last addresses (version 3). */
const newTail = (): Uint8Array => new Uint8Array(TAIL * 2 + 64);
const newSlots = (): Float64Array => new Float64Array(ADDR_SLOTS);

function scratchLevels<T>(make: () => T): T[] {
  const levels: T[] = [];
  for (let i = 0; i < SCRATCH_LEVELS; i++) levels.push(make());
  return levels;
}
const TWO_32 = 4294967296;
/**
 * Rounds of the feed (feedLoop()): V8 gives recordsAt() its feedback vector once it ran about 8 × its bytecode's
 * length (~2.3 KB) in the interpreter, a feed call counting about its return's offset: the first rounds make the
 * vector, the later ones fill it. 8 rounds of FEEDS are ~50 calls, ~110 K of bytecode: less than two of the
 * ~18 ticks of 67 584 V8 wants before it optimizes the function, so the feed never compiles it by itself.
 */
const FEED_ROUNDS = 8;
/** A stream id no capture has (ids are 32-bit unsigned): nodesOf()'s feed (feedLoop()). */
const FEED_STREAM = -1;
/**
 * Cut records that take the records loop's rare branches, each up to its overrun check (so nothing is passed on
 * and nothing is warned of: a partial payload's overrun is its cut): see feedLoop(). The tail of a payload is
 * zero-filled, so a varint read past the end is 0. Address varints: 0x18 is slot 4 with a zigzag 1 (a negative
 * delta) where references shift it (version 7), slot 0 with a zigzag 3 (negative too) where they do not; 0x01 a
 * reference (version 7) or slot 1 with delta 0 (before); 0x08 slot 0 (or 4) with a negative delta.
 */
const FEEDS: readonly Uint8Array[] = [
  // An empty payload: the loop's clean end (`return shift + end`), which the other feeds (all cut) do not take.
  new Uint8Array(0),
  // ALLOC: seq delta (q bit clear), slot delta 0, then size, stack: the overrun of an ALLOC (`overrun = p > end`).
  new Uint8Array([0x80, 1]),
  // ALLOC: seq deltas of 2, 3 and 4 bytes (varintAt's returns: a payload may have its first long varint late).
  new Uint8Array([0x80, 0x80, 0x01]),
  new Uint8Array([0x80, 0x80, 0x80, 0x01]),
  new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x01]),
  // ALLOC: a seq delta past 2^28 (varintAt's long path), a negative slot delta.
  new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x18]),
  // ALLOC: a reference to a FREE back (version 7), or a slot (before).
  new Uint8Array([0x81, 0x01]),
  // ALLOC with w: a whole address (wholeAt()), then one relative to the previous address (negative).
  new Uint8Array([0x83, 0x00]),
  new Uint8Array([0x83, 0x08]),
  // FREE: seq delta, slot delta 0, a size varint.
  new Uint8Array([0x61, 0x01]),
  // FREE with a size: a negative slot delta.
  new Uint8Array([0x63, 0x18]),
  // FREE: a reference to an ALLOC back (version 7), or a slot (before); with a size.
  new Uint8Array([0x63, 0x01]),
  // FREE with w: a whole address, then one relative to the previous address; with a size.
  new Uint8Array([0x67, 0x00]),
  new Uint8Array([0x67, 0x08]),
  // A meta record whose length runs past the end; one whose length takes two bytes.
  new Uint8Array([0x05, 0x10]),
  new Uint8Array([0x05, 0x80, 0x01]),
  // FRAMEs whose length runs past the end: fields of one byte, two bytes (read in the loop: the parent, then the
  // code id and the instruction), three (frameAt()).
  new Uint8Array([0x01, 0x04]),
  new Uint8Array([0x01, 0x05, 0x80, 0x01]),
  new Uint8Array([0x01, 0x06, 0x01, 0x80, 0x01, 0x80]),
  new Uint8Array([0x01, 0x05, 0x80, 0x80, 0x01]),
  // ALLOC and FREE (with a size: cut there) of version 7: a slot delta whose zigzag z is odd and past 2^31 (the
  // varint 2^35 + 16: bit 0 clear, no reference; slot 0, z = 2^31 + 1, a delta of −32 GiB). call_sites has one in a
  // FREE, 40 % into its read: `-(z + 1)` had met only small integers and deoptimized the loop ("lost precision").
  new Uint8Array([0x81, 0x90, 0x80, 0x80, 0x80, 0x80, 0x01]),
  new Uint8Array([0x63, 0x90, 0x80, 0x80, 0x80, 0x80, 0x01]),
];
/** The history of a capture without references (never written). */
const EMPTY_HISTORY: Float64Array = new Float64Array(1);
const MAX = Number.MAX_SAFE_INTEGER;
const TWO_28 = 268435456;

// The position after the last varint read by varintAt (a module variable, not a returned object).
let vpos = 0;
// Set when a varint was longer than 10 bytes or above 2^53 − 1.
let vbad = false;

// `<= 0x7f`, not `< 0x80`, and TWO_28 rather than the literal: 194 bytes of bytecode, not 204 (128 and 2^28
// are wide operands). The loop inlines a dozen of these within V8's budget: 10 bytes more each left a hot one
// a call on call_sites (0.3 s of `stats`' profile).
function varintAt(buf: Uint8Array, p: number): number {
  let b = buf[p]!;
  if (b <= 0x7f) {
    vpos = p + 1;
    return b;
  }
  let r = b & 0x7f;
  b = buf[p + 1]!;
  r |= (b & 0x7f) << 7;
  if (b <= 0x7f) {
    vpos = p + 2;
    return r;
  }
  b = buf[p + 2]!;
  r |= (b & 0x7f) << 14;
  if (b <= 0x7f) {
    vpos = p + 3;
    return r;
  }
  b = buf[p + 3]!;
  r |= (b & 0x7f) << 21;
  if (b <= 0x7f) {
    vpos = p + 4;
    return r;
  }
  // The bits past the 28th as a small integer (below 2^25 for a valid varint): the value is made here, a double
  // in the function varintAt is inlined into. varintLong() returning the whole value gave it back boxed (a call's
  // result is tagged): a heap number per long varint, 60 MB on numpy_mix's `stats` (its whole addresses).
  return varintHigh(buf, p + 4) * TWO_28 + r;
}

/** The bits 28 and up of the varint whose fifth byte is at p (sets vpos; vbad past 2^53 − 1 or 10 bytes). */
function varintHigh(buf: Uint8Array, p: number): number {
  let hi = 0;
  let mul = 1;
  for (let i = 4; i < 10; i++) {
    const b = buf[p++]!;
    hi += (b & 0x7f) * mul;
    if (b < 0x80) {
      vpos = p;
      // 2^53 − 1 is 2^25 − 1 times 2^28 plus the low 28 bits at most.
      if (hi > 0x1ffffff) vbad = true;
      return hi;
    }
    mul *= 128;
  }
  vpos = p;
  vbad = true;
  return 0;
}

// A whole address's varint (up to 2^53 − 1) into vnum[0], vpos after it, vbad if it is not valid. Not varintAt(): a
// read the loop makes seldom (numpy_mix's buffers far from the heap) is the varintAt call V8 leaves a call when its
// inlining budget runs out, and a call's result is boxed (a heap number per address, 32 MB on numpy_mix's `stats`);
// through the Float64Array it is not. Small (a loop): inlined, it takes less of that budget than varintAt.
const vnum = new Float64Array(1);

function wholeAt(buf: Uint8Array, p: number): void {
  let r = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    const b = buf[p++]!;
    r += (b & 0x7f) * mul;
    if (b < 0x80) {
      vpos = p;
      if (r > MAX) vbad = true;
      vnum[0] = r;
      return;
    }
    mul *= 128;
  }
  vpos = p;
  vbad = true;
  vnum[0] = 0;
}

function unzigzag(z: number): number {
  return z < TWO_32 ? (z >>> 1) ^ -(z & 1) : z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

// Version 3's addresses (docs/capture-format.md "Addresses"): a varint a, slot = a & 7, d = unzigzag(a >> 3);
// w = 0: the slot's last address + d × 16; w = 1: the previous address + d × 8, or (d = 0) a whole address
// in the next varint. The slot then holds the address.

/** What the meta reader points at between records. */
const NO_BYTES = new Uint8Array(0);
/**
 * The fields of FRAME node `id` whose payload is buf[p, end) into `out` (parent, code id, instruction), read
 * as the loop reads an ALLOC's varints (varintAt: inside the 61 bytes past a record start that the loop may
 * read, see the top of the file), not through the meta records' ByteReader: call_sites has 29.7 M FRAMEs.
 * false, with nothing written, when the fields are not all there or not valid: frameFields() (meta.ts) then
 * reads them again, and throws what decodeMeta() would.
 */
function frameAt(buf: Uint8Array, p: number, end: number, id: number, parentDeltas: boolean, out: Float64Array): boolean {
  const a = varintAt(buf, p);
  const code = varintAt(buf, vpos);
  const instr = varintAt(buf, vpos);
  if (vpos > end || vbad || (parentDeltas && (a === 0 || a > id))) {
    vbad = false;
    return false;
  }
  out[0] = parentDeltas ? id - a : a;
  out[1] = code;
  out[2] = instr;
  return true;
}

export class CaptureDecoder {
  private readonly framer: BlockFramer;
  private headerValue: CaptureHeader | undefined;
  private native = false;
  /** Addresses are coded against slots (min_reader_version 3 and later). */
  private slotted = false;
  /** Group blocks may appear (min_reader_version 4 and later): before, kind 2 was unknown. */
  private grouped = false;
  /** FRAME and NATIVE_FRAME parents are coded against their node's id (min_reader_version 6 and later). */
  private parentDeltas = false;
  private readonly nodes = new Map<number, StreamNodes>();
  private readonly warnedKinds = new Set<string>();
  /** Scratch buffers for payload tails, one per nesting level of records() (see the top of the file). */
  private readonly tails: Uint8Array[] = scratchLevels(newTail);
  /** The slots' last addresses of a block (version 3), one array per nesting level of records(). */
  private readonly slotArrays: Float64Array[] = scratchLevels(newSlots);
  /** Version 7: per nesting depth, the block's ALLOC addresses then its FREE addresses, for references. */
  private readonly refArrays: Float64Array[] = [];
  private refs = false;
  private depth = 0;
  /** recordsAt()'s rare branches were fed (feedLoop()). */
  private fed = false;
  private readonly inflater = new BlockInflater();
  /** Where a group's parts are put back (undefined while a group's parts are being passed on). */
  private groupScratch: GroupScratch | undefined = new GroupScratch();
  /** The group whose parts are passed on (passPart), its payload and StoredPack (from ungroupInto()). */
  private groupInfo: BlockInfo = recordsInfo(0, 0, 0, BLOCK_KIND_RECORDS, 0, 0, 0, 0);
  private groupRaw: Uint8Array = NO_BYTES;
  private groupPack: StoredPack | undefined;
  /** groupRecords()' callback for each part of the group in the fields above. */
  private readonly passPart = (p: GroupPart): void => this.groupPart(this.groupInfo, p, this.groupRaw, this.groupPack);
  /** Where deferred blocks wait (see block-pool.ts). */
  private readonly pool = new BlockPool();
  private readonly packedFrom: number;
  /** Where the packs of waiting parts kept as stored bytes are decompressed again. */
  private readonly packed: PackedParts;
  private readonly metaReader = new ByteReader(NO_BYTES);
  /** Counters, for progress and summaries. */
  blocks = 0;
  warnings = 0;

  constructor(
    private readonly visitor: CaptureVisitor,
    options: DecoderOptions = {},
  ) {
    this.packedFrom = options.packedFrom ?? PACKED_FROM_BYTES;
    this.packed = new PackedParts(this.inflater);
    this.framer = new BlockFramer(
      {
        header: (h) => this.onHeader(h),
        block: (info, bytes) => this.onBlock(info, bytes),
        damaged: (offset, length, reason) =>
          this.warn({
            kind: 'damaged-block',
            offset,
            skippedBytes: length,
            message: `damaged data at offset ${offset} (${reason}): skipped ${length} bytes to the next good block`,
          }),
        truncated: (offset, info, bytes) => this.onTruncated(offset, info, bytes),
      },
      options.source,
    );
  }

  get header(): CaptureHeader | undefined {
    return this.headerValue;
  }

  /** Bytes consumed so far. */
  get position(): number {
    return this.framer.position;
  }

  feed(chunk: Uint8Array): void {
    this.framer.feed(chunk);
  }

  end(): void {
    this.framer.end();
  }

  private warn(w: DecodeWarning): void {
    this.warnings++;
    this.visitor.warning?.(w);
  }

  private onHeader(h: CaptureHeader): void {
    this.headerValue = h;
    this.native = (h.options & OPTION_NATIVE) !== 0;
    this.slotted = h.minReaderVersion >= SLOT_ADDRESS_VERSION;
    this.refs = h.minReaderVersion >= ADDR_REF_VERSION;
    this.grouped = h.minReaderVersion >= GROUP_FORMAT_VERSION;
    this.parentDeltas = h.minReaderVersion >= PARENT_DELTA_VERSION;
    this.visitor.header?.(h);
  }

  private nodesOf(stream: number): StreamNodes {
    let n = this.nodes.get(stream);
    if (n === undefined) {
      n = { frames: 0, natives: 0 };
      this.nodes.set(stream, n);
    }
    return n;
  }

  /** Whether the decoder can read this block's records; warns once per unknown kind or flag set otherwise. */
  private readable(info: BlockInfo): boolean {
    let what: string | undefined;
    if (info.kind !== BLOCK_KIND_RECORDS && !(info.kind === BLOCK_KIND_GROUP && this.grouped)) what = `kind ${info.kind}`;
    else if ((info.flags & ~BLOCK_FLAGS_COMPRESSED) !== 0 || info.flags === BLOCK_FLAGS_COMPRESSED) what = `flags 0x${info.flags.toString(16)}`;
    if (what === undefined) return true;
    if (!this.warnedKinds.has(what)) {
      this.warnedKinds.add(what);
      this.warn({
        kind: 'unknown-block-kind',
        offset: info.offset,
        skippedBytes: info.headerLen + info.storedLen,
        message: `block of unknown ${what} at offset ${info.offset} skipped (written by a newer memlens?); later blocks like it are skipped silently`,
      });
    }
    return false;
  }

  private onBlock(info: BlockInfo, bytes: Uint8Array): void {
    this.blocks++;
    const v = this.visitor;
    v.block?.(info);
    if (!this.readable(info)) return;
    const stored = bytes.subarray(info.headerLen);
    if (info.kind === BLOCK_KIND_GROUP) {
      this.groupRecords(info, stored);
      return;
    }
    // The records see the block as a group's parts are seen (recordsInfo()): a capture of groups may have its
    // only plain blocks at its end, and an object of another shape met there deoptimized recordsAt().
    const rec = recordsInfo(info.offset, info.flags, info.headerLen, info.kind, info.storedLen, info.rawLen, info.stream, info.baseSeq);
    if (v.defer !== undefined && isThreadStream(rec.stream)) {
      deferCopy(v, this.pool, this.nodesOf(rec.stream), rec.stream, rec.rawLen, stored, (b, to) => this.storedRecords(rec, b, to));
      return;
    }
    this.storedRecords(rec, stored, v);
  }

  /**
   * A group block (format version 4, group.ts): its parts are ordinary records payloads of their streams,
   * each passed on as a block of its own at the group's offset (header_len 0), in order.
   */
  private groupRecords(info: BlockInfo, stored: Uint8Array): void {
    const parts = this.ungroupInto(info, stored);
    if (parts === undefined) return;
    const raw = this.groupRaw;
    const pack = this.groupPack;
    const scratch = this.groupScratch;
    this.groupScratch = undefined;
    this.groupInfo = info;
    // A pack's parts are views of `raw`, the inflater's buffer of this depth: a block decoded while they
    // are passed on (the orderer releasing deferred blocks) decompresses one level deeper.
    this.depth++;
    try {
      // The parts are walked by forEach, not by a loop here: V8 counts a function's heat by the bytecode it
      // runs, and a loop over a pack's ~40 parts made this function hot late in a big read (after thousands
      // of parts, 85 % into the 50 M-event capture's), when V8 compiled it with groupPart() and all it calls
      // inlined (10-13 ms, its compiler zone on top of the read's largest moment; docs/benchmarks.md,
      // "stats' peak, round fifteen" and "round sixteen"). Now only the callback gets hot, from the first
      // packs on, and is compiled then; this function runs a few dozen bytecodes a group and stays cold.
      // One callback made with the decoder, the group in fields: a closure made per group was compiled
      // again and again (its code let go with the closures it was made for), once at `summary`'s peak.
      // The unpacking is ungroupInto()'s, so that a read long enough to make this function hot all the same
      // compiles less with it.
      parts.forEach(this.passPart);
    } finally {
      this.depth--;
      this.groupScratch = scratch;
      // As they were: a group passed on while this one's parts are (none is, today) changes them.
      this.groupInfo = info;
      this.groupRaw = raw;
      this.groupPack = pack;
    }
  }

  /**
   * A group block's parts, put back into the group scratch (its payload decompressed first if need be), with
   * the payload in `groupRaw` and the StoredPack its waiting parts keep in `groupPack`; undefined when the
   * group is damaged (warned and skipped whole).
   */
  private ungroupInto(info: BlockInfo, stored: Uint8Array): readonly GroupPart[] | undefined {
    let raw: Uint8Array | undefined;
    if ((info.flags & BLOCK_FLAGS_COMPRESSED) === 0) raw = new Uint8Array(stored);
    else {
      // Into the inflater's buffer of this depth, as a records block's payload: brotliDecompressSync made a
      // new output of raw_len (1 MiB for a pack) per group, garbage that V8 collects only once dozens of
      // MiB of it have piled up (docs/benchmarks.md, "Reports, round seven").
      if ((info.flags & BLOCK_FLAG_BROTLI) !== 0) raw = this.inflater.decompress(stored, info.rawLen, this.depth);
      raw ??= this.decompress(info, stored);
    }
    if (raw === undefined) return undefined;
    // The parts are all put back before any is passed on (a damaged group is skipped whole), into one
    // buffer kept for the next group rather than a new array per part.
    const scratch = this.groupScratch;
    const parts = scratch !== undefined ? scratch.fill(raw, this.native, this.slotted) : ungroup(raw, this.native, this.slotted);
    if (typeof parts === 'string') {
      this.damagedPayload(info, `is a group of streams that cannot be read: ${parts}`);
      return undefined;
    }
    // While many copies wait (a barrier that comes late), the waiting parts of a brotli pack keep the pack's
    // stored bytes rather than copies of themselves (PackedParts).
    this.groupRaw = raw;
    this.groupPack =
      this.visitor.defer !== undefined && (info.flags & BLOCK_FLAG_BROTLI) !== 0 && raw.length === info.rawLen && this.pool.waitingBytes >= this.packedFrom
        ? new StoredPack(stored.slice(), info.rawLen, raw.buffer)
        : undefined;
    return parts;
  }

  /** A group's part `p` (a view of `raw`), passed on as a block of its own at the group's offset. */
  private groupPart(info: BlockInfo, p: GroupPart, raw: Uint8Array, pack: StoredPack | undefined): void {
    const v = this.visitor;
    const part = recordsInfo(info.offset, 0, 0, BLOCK_KIND_RECORDS, p.payload.length, p.payload.length, p.stream, p.baseSeq);
    v.block?.(part);
    if (pack !== undefined && isThreadStream(p.stream) && p.payload.buffer === pack.rawBuffer) {
      const at = p.payload.byteOffset - raw.byteOffset;
      const len = p.payload.length;
      deferPacked(v, this.packed, pack, this.nodesOf(p.stream), p.stream, len, (b, to) => this.records(b.subarray(at, at + len), part, -1, false, to));
    } else if (v.defer !== undefined && isThreadStream(p.stream)) {
      deferCopy(v, this.pool, this.nodesOf(p.stream), p.stream, p.payload.length, p.payload, (b, to) => this.records(b, part, -1, false, to));
    } else {
      this.records(p.payload, part, -1, false, v);
    }
  }

  /** The payload of a compressed block, or undefined (and a warning) when it does not decompress to raw_len bytes. */
  private decompress(info: BlockInfo, stored: Uint8Array): Uint8Array | undefined {
    try {
      const limit = { maxOutputLength: Math.max(info.rawLen, 1), chunkSize: Math.max(info.rawLen, 64) };
      const raw = (info.flags & BLOCK_FLAG_BROTLI) !== 0 ? brotliDecompressSync(stored, limit) : inflateRawSync(stored, limit);
      if (raw.length !== info.rawLen) {
        this.damagedPayload(info, `decompresses to ${raw.length} bytes, not ${info.rawLen}`);
        return undefined;
      }
      return new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
    } catch (e) {
      this.damagedPayload(info, `cannot be decompressed (${e instanceof Error ? e.message : String(e)})`);
      return undefined;
    }
  }

  /** Decodes the records of a whole block from its stored payload (decompressing it first if need be). */
  private storedRecords(info: BlockInfo, stored: Uint8Array, v: CaptureVisitor): void {
    if ((info.flags & BLOCK_FLAGS_COMPRESSED) !== 0) {
      let raw: Uint8Array | undefined = (info.flags & BLOCK_FLAG_BROTLI) !== 0 ? this.inflater.decompress(stored, info.rawLen, this.depth) : undefined;
      if (raw !== undefined) {
        this.records(raw, info, -1, false, v);
        return;
      }
      try {
        // One output buffer of the announced size: no chunks to concatenate, half the garbage.
        const limit = { maxOutputLength: Math.max(info.rawLen, 1), chunkSize: Math.max(info.rawLen, 64) };
        raw = (info.flags & BLOCK_FLAG_BROTLI) !== 0 ? brotliDecompressSync(stored, limit) : inflateRawSync(stored, limit);
      } catch (e) {
        this.damagedPayload(info, `cannot be decompressed (${e instanceof Error ? e.message : String(e)})`);
        return;
      }
      if (raw.length !== info.rawLen) {
        this.damagedPayload(info, `decompresses to ${raw.length} bytes, not ${info.rawLen}`);
        return;
      }
      this.records(new Uint8Array(raw.buffer, raw.byteOffset, raw.length), info, -1, false, v);
    } else {
      this.records(new Uint8Array(stored.buffer, stored.byteOffset, stored.length), info, info.offset + info.headerLen, false, v);
    }
  }

  private damagedPayload(info: BlockInfo, what: string): void {
    this.warn({
      kind: 'damaged-block',
      offset: info.offset,
      skippedBytes: info.headerLen + info.storedLen,
      message: `block at offset ${info.offset} ${what}: skipped`,
    });
  }

  private onTruncated(offset: number, info: BlockInfo | undefined, bytes: Uint8Array): void {
    const total = offset + bytes.length;
    if (info === undefined) {
      this.warn({
        kind: 'truncated',
        offset,
        skippedBytes: bytes.length,
        message: `the capture ends at offset ${total}, inside the header of a block (the writer was probably killed): read up to offset ${offset}`,
      });
      return;
    }
    const v = this.visitor;
    v.block?.(info);
    if ((info.flags & BLOCK_FLAGS_COMPRESSED) !== 0 || !this.readable(info) || info.kind === BLOCK_KIND_GROUP) {
      this.warn({
        kind: 'truncated',
        offset,
        skippedBytes: bytes.length,
        message: `the capture ends at offset ${total}, inside a ${info.flags & BLOCK_FLAGS_COMPRESSED ? 'compressed ' : ''}block that starts at offset ${offset} (the writer was probably killed): read up to offset ${offset}`,
      });
      return;
    }
    const payload = bytes.subarray(Math.min(info.headerLen, bytes.length));
    if (v.defer !== undefined && isThreadStream(info.stream)) {
      deferCopy(v, this.pool, this.nodesOf(info.stream), info.stream, payload.length, payload, (b, to) => this.cutRecords(offset, info, b, total, to));
      return;
    }
    this.cutRecords(offset, info, payload, total, v);
  }

  /** Decodes the whole records of a block cut at file offset `total`, and says where it was cut. */
  private cutRecords(offset: number, info: BlockInfo, payload: Uint8Array, total: number, v: CaptureVisitor): void {
    const cut = this.records(new Uint8Array(payload.buffer, payload.byteOffset, payload.length), info, offset + info.headerLen, true, v);
    if (cut >= 0) {
      const at = offset + info.headerLen + cut;
      this.warn({
        kind: 'truncated',
        offset: at,
        skippedBytes: total - at,
        message: `the capture ends at offset ${total}, inside a block that starts at offset ${offset} (the writer was probably killed): read up to offset ${at}`,
      });
    }
  }

  /**
   * Decodes the records of one payload. `fileBase` is the file offset of payload[0], or −1 when the payload
   * was decompressed. With `partial` (the data was cut), a record that runs past the end is the cut, not
   * damage. Returns the payload offset where decoding stopped (the cut of a partial payload, its length
   * when it ended on a record boundary), or −1 when a bad record was reported.
   */
  private records(payload: Uint8Array, info: BlockInfo, fileBase: number, partial: boolean, v: CaptureVisitor): number {
    if (!this.fed) this.feedLoop(info.stream, v);
    const depth = this.depth++;
    try {
      const tail = this.tails[depth] ?? (this.tails[depth] = newTail());
      const slots = this.slotArrays[depth] ?? (this.slotArrays[depth] = newSlots());
      slots.fill(0);
      // References (version 7): room for every event of the payload, an ALLOC (3 bytes or more) or a FREE
      // (2 or more) each, allocations counting up from 0 and frees down from the end.
      let hist: Float64Array = EMPTY_HISTORY;
      if (this.refs) {
        hist = this.refArrays[depth] ?? EMPTY_HISTORY;
        const need = (payload.length >> 1) + 2;
        // Grown by an eighth at least and rounded up to 1024 entries, not doubled: a thread's blocks are about
        // 32 KiB each, and one two bytes longer than the longest so far doubled it (a 256 KiB array, and one
        // of 128 KiB left to the collector, where one of 136 KiB does); still geometric, so blocks that keep
        // growing make it again a bounded number of times.
        // The levels below this one are grown with it (growHistories()).
        if (hist.length < need) hist = this.growHistories(depth, need);
      }
      return this.recordsAt(payload, info, fileBase, partial, v, tail, slots, hist);
    } finally {
      this.depth--;
      // A nested call may have left vbad set; the caller checked its own varints before calling out.
      vbad = false;
    }
  }

  /**
   * Runs recordsAt() over FEEDS, cut records that take the loop's rare branches, FEED_ROUNDS times, at the first
   * records() call: so that V8 has feedback for them before it compiles the loop. A branch first met after the
   * compile (a capture's first seq delta 82 % into the read, an ALLOC that runs past a cut payload, a FREE's
   * negative slot delta or its size, a whole address) was a bytecode without feedback, where the optimized loop
   * deoptimized ("Insufficient type feedback"), and recordsAt() was compiled again, OSR and whole, with the
   * orderer's and the builder's calls it inlines (~50-70 ms each; docs/benchmarks.md, "stats' peak, round
   * sixteen", "The records loop's recompiles, round twenty-five" and the round twenty-eight section). Before
   * round twenty-eight one feed ran at the 64th call, to be past the vector's making; the loop was compiled
   * before it on most captures (the OSR compile inside the first payloads), and the feed deoptimized it itself.
   * Fed at the first call, its rounds make the vector first (see FEED_ROUNDS). The records are cut: nothing is
   * passed on, no warning, and the level's scratch arrays they touched are set again by the next records().
   */
  private feedLoop(stream: number, v: CaptureVisitor): void {
    this.fed = true;
    for (let round = 0; round < FEED_ROUNDS; round++) {
      for (const f of FEEDS) this.records(f, recordsInfo(0, 0, 0, BLOCK_KIND_RECORDS, f.length, f.length, stream, 0), -1, true, v);
    }
    // nodesOf()'s branch for a stream not met yet, taken here with feedback: a capture's streams all begin in
    // its first blocks, before V8 gives nodesOf() its feedback vector, except memlens' own at the very end (its
    // plain block). recordsAt() inlines nodesOf(), and that branch, never taken since, deoptimized it there and
    // it was compiled again (~50 ms, a few MiB of compiler zone) at the read's largest moment: +1.5-2 MB of
    // churn `stats`' peak RSS (docs/benchmarks.md, "The records loop's meta path, round twenty-two").
    for (let round = 0; round < FEED_ROUNDS; round++) {
      this.nodesOf(FEED_STREAM);
      this.nodes.delete(FEED_STREAM);
    }
  }

  /**
   * The history array of nesting level `depth`, grown to hold `need` entries, and those of the levels below it
   * to the same length where shorter. A capture of groups decodes its parts at levels 1 and 2 and may have
   * plain blocks at level 0 only at its end: grown there for the first time, this call was a branch that
   * V8 had no feedback for (it had been taken only in the first calls) and deoptimized records() at the end of a
   * big read. Level 0 costs as much as the deeper ones then (8 bytes per 2 bytes of the longest payload).
   */
  private growHistories(depth: number, need: number): Float64Array {
    const arrays = this.refArrays;
    const old = arrays[depth] ?? EMPTY_HISTORY;
    // Grown by an eighth at least and rounded up to 1024 entries (see records()).
    const len = Math.ceil(Math.max(need, old.length + (old.length >> 3)) / 1024) * 1024;
    for (let d = 0; d <= depth; d++) if ((arrays[d]?.length ?? 0) < len) arrays[d] = new Float64Array(len);
    return arrays[depth]!;
  }

  private recordsAt(payload: Uint8Array, info: BlockInfo, fileBase: number, partial: boolean, v: CaptureVisitor, tail: Uint8Array, slots: Float64Array, hist: Float64Array): number {
    const stream = info.stream;
    const nodes = this.nodesOf(stream);
    const native = this.native;
    const slotted = this.slotted;
    const refs = this.refs;
    const freeAt = v.freeAt !== undefined;
    const frame = v.frame !== undefined;
    // hist[0, nAllocs): the block's ALLOC addresses; hist(hist.length - 1 - nFrees, end): its FREE addresses, the
    // last one first.
    let nAllocs = 0;
    let nFrees = 0;
    const top = hist.length - 1;
    let buf = payload;
    let end = payload.length;
    // shift: payload offset of buf[0] (changes when the tail is moved into the scratch buffer).
    let shift = 0;
    let inTail = false;
    let p = 0;
    let seq = info.baseSeq;
    let addr = 0;
    let stack = 0;
    let nstack = 0;
    let bad = '';
    let overrun = false;
    let recStart = 0;
    vbad = false;
    for (;;) {
      if (p >= end) break;
      if (!inTail && end - p < TAIL) {
        const n = end - p;
        tail.set(buf.subarray(p, end), 0);
        tail.fill(0, n);
        shift += p;
        buf = tail;
        end = n;
        p = 0;
        inTail = true;
      }
      recStart = p;
      const t = buf[p]!;
      p++;
      if (t >= 0x60) {
        // An ALLOC's or a FREE's seq (q: the previous one plus one, else a delta follows), read at one call
        // site for both: V8 can compile this loop before the first delta of either kind (on a 50 M-event
        // capture both came late), and a call it never saw made it deopt and compile the loop again, twice
        // when the ALLOC and the FREE had a call each (docs/benchmarks.md, "Deopts and recompiles of a big
        // read, round fourteen"). Keep the one call site.
        if ((t & (t >= 0x80 ? 1 : 2)) !== 0) seq += 1;
        else {
          seq += varintAt(buf, p);
          p = vpos;
        }
      }
      if (t >= 0x80) {
        // ALLOC 1kkkkswq
        if (slotted) {
          // Version 3 (see slotAddress), inline: a function call here cost a quarter of the decoding time.
          let a = varintAt(buf, p);
          p = vpos;
          if (refs && (t & 2) === 0 && (a & 1) !== 0) {
            // Version 7: the address of the (a >> 1)-th FREE back (0: the last one); the slots stay.
            const back = a < TWO_32 ? a >>> 1 : Math.floor(a / 2);
            addr = back < nFrees ? hist[top - nFrees + 1 + back]! : -1;
          } else {
            if (refs && (t & 2) === 0) a = a < TWO_32 ? a >>> 1 : a / 2;
            const slot = a & 7;
            const z = a < TWO_32 ? a >>> 3 : Math.floor(a / 8);
            // unzigzag(z) × 16 or × 8 written out: a call left by V8 returns a large delta boxed.
            const d = (z & 1) === 0 ? z : -(z + 1);
            if ((t & 2) === 0) addr = slots[slot]! + d * 8;
            else if (z !== 0) addr += d * 4;
            else {
              wholeAt(buf, p);
              addr = vnum[0]!;
              p = vpos;
            }
            slots[slot] = addr;
          }
          if (refs) hist[nAllocs++] = addr;
        } else if ((t & 2) !== 0) {
          wholeAt(buf, p);
          addr = vnum[0]!;
          p = vpos;
        } else {
          addr += unzigzag(varintAt(buf, p)) * 8;
          p = vpos;
        }
        const size = varintAt(buf, p);
        p = vpos;
        if ((t & 4) === 0) {
          stack += unzigzag(varintAt(buf, p));
          p = vpos;
        }
        if (native) {
          nstack += unzigzag(varintAt(buf, p));
          p = vpos;
        }
        if (p > end || vbad) {
          overrun = p > end;
          bad = vbad ? 'bad varint in an ALLOC record' : 'ALLOC record runs past the end of the block';
          break;
        }
        // Deltas that lead below 0 or past 2^53 − 1 are damage: no address, stack node or seq is there.
        if (!(addr >= 0 && addr <= MAX && stack >= 0 && stack <= MAX && nstack >= 0 && nstack <= MAX && seq <= MAX)) {
          bad = 'an ALLOC record whose address, stack node or seq is out of range';
          break;
        }
        v.alloc(stream, seq, addr, size, (t >>> 3) & 15, stack, nstack);
      } else if ((t & 0xe0) === 0x60) {
        // FREE 011kkwqz (its seq read above)
        if (slotted) {
          // Version 3 (see slotAddress), inline: a function call here cost a quarter of the decoding time.
          let a = varintAt(buf, p);
          p = vpos;
          if (refs && (t & 4) === 0 && (a & 1) !== 0) {
            // Version 7: the address of the (a >> 1)-th ALLOC back (0: the last one); the slots stay.
            const back = a < TWO_32 ? a >>> 1 : Math.floor(a / 2);
            addr = back < nAllocs ? hist[nAllocs - 1 - back]! : -1;
          } else {
            if (refs && (t & 4) === 0) a = a < TWO_32 ? a >>> 1 : a / 2;
            const slot = a & 7;
            const z = a < TWO_32 ? a >>> 3 : Math.floor(a / 8);
            // unzigzag(z) × 16 or × 8 written out: a call left by V8 returns a large delta boxed.
            const d = (z & 1) === 0 ? z : -(z + 1);
            if ((t & 4) === 0) addr = slots[slot]! + d * 8;
            else if (z !== 0) addr += d * 4;
            else {
              wholeAt(buf, p);
              addr = vnum[0]!;
              p = vpos;
            }
            slots[slot] = addr;
          }
          if (refs) hist[top - nFrees++] = addr;
        } else if ((t & 4) !== 0) {
          wholeAt(buf, p);
          addr = vnum[0]!;
          p = vpos;
        } else {
          addr += unzigzag(varintAt(buf, p)) * 8;
          p = vpos;
        }
        let size = 0;
        if ((t & 1) !== 0) {
          size = varintAt(buf, p);
          p = vpos;
        }
        if (p > end || vbad) {
          overrun = p > end;
          bad = vbad ? 'bad varint in a FREE record' : 'FREE record runs past the end of the block';
          break;
        }
        if (!(addr >= 0 && addr <= MAX && seq <= MAX)) {
          bad = 'a FREE record whose address or seq is out of range';
          break;
        }
        if (freeAt) {
          eventAddress[0] = addr;
          v.freeAt!(stream, seq, size, (t >>> 3) & 3);
        } else v.free(stream, seq, addr, size, (t >>> 3) & 3);
      } else if (t >= 0x40) {
        bad = `reserved record type 0x${t.toString(16)}`;
        break;
      } else if (t === 0) {
        bad = 'record type 0 (zero-filled data)';
        break;
      } else {
        let len = buf[p]!;
        if (len <= 0x7f) p++;
        else {
          len = varintAt(buf, p);
          p = vpos;
        }
        if ((t as RecordType) === RecordType.Frame && frame) {
          // A FRAME (call_sites: 29.7 M, as many as its ALLOCs): its three fields read here when each is one or two
          // bytes (a value below 2^14, a small integer), frameAt() for the others, before the record's length is
          // checked (within the 61 bytes the loop may read past a record start, 41 at most here; nothing is kept
          // or passed on before the check), so that a cut FRAME of FEEDS takes frameAt()'s call before the loop is
          // compiled. frameAt()'s and frameFields()' ByteReader set-up, per FRAME, was 8-9 % of the read alone.
          const id = nodes.frames + 1;
          const parentDeltas = this.parentDeltas;
          let q = p;
          let fa = buf[q]!;
          let fc = 0;
          let fi = 0;
          let short = true;
          if (fa <= 0x7f) q++;
          else if (buf[q + 1]! <= 0x7f) {
            fa = (fa & 0x7f) | (buf[q + 1]! << 7);
            q += 2;
          } else short = false;
          if (short) {
            fc = buf[q]!;
            if (fc <= 0x7f) q++;
            else if (buf[q + 1]! <= 0x7f) {
              fc = (fc & 0x7f) | (buf[q + 1]! << 7);
              q += 2;
            } else short = false;
          }
          if (short) {
            fi = buf[q]!;
            if (fi <= 0x7f) q++;
            else if (buf[q + 1]! <= 0x7f) {
              fi = (fi & 0x7f) | (buf[q + 1]! << 7);
              q += 2;
            } else short = false;
          }
          let whole: boolean;
          let parent: number;
          if (short) {
            whole = q <= p + len && (!parentDeltas || (fa !== 0 && fa <= id));
            parent = parentDeltas ? id - fa : fa;
          } else {
            // frameAt() sets vbad back to false when it fails: the length's own vbad is kept.
            const lenBad: boolean = vbad;
            const f = FRAME_SCRATCH;
            whole = frameAt(buf, p, p + len, id, parentDeltas, f);
            vbad = lenBad;
            parent = f[0]!;
            fc = f[1]!;
            fi = f[2]!;
          }
          if (p > end || vbad || len > end - p) {
            overrun = !vbad;
            bad = vbad ? `bad length varint in a record of type ${t}` : `record of type ${t} runs past the end of the block`;
            break;
          }
          // The id is taken even if the fields are bad (as decodeMeta()).
          nodes.frames = id;
          if (whole) v.frame!(stream, id, parent, fc, fi);
          else this.badFrame(t, buf, p, len, id, stream, v, fileBase, info, shift, recStart);
        } else {
          if (p > end || vbad || len > end - p) {
            overrun = !vbad;
            bad = vbad ? `bad length varint in a record of type ${t}` : `record of type ${t} runs past the end of the block`;
            break;
          }
          this.metaAt(t, buf, p, len, stream, nodes, v, fileBase, info, shift, recStart);
        }
        p += len;
      }
    }
    if (bad === '') return shift + end;
    const at = shift + recStart;
    if (partial && overrun) return at;
    const skipped = shift + end - at;
    this.warn({
      kind: 'bad-record',
      offset: this.where(fileBase, info, at),
      skippedBytes: fileBase < 0 ? info.storedLen : skipped,
      message: `${bad} ${this.describe(fileBase, info, at)}: skipped the rest of the block (${skipped} bytes)`,
    });
    return -1;
  }

  /**
   * A FRAME whose fields frameAt() did not take (cut short by the record's length, a parent delta out of range, a
   * varint past 2^53 − 1): read again by frameFields(), which throws the ReadError decodeMeta() would (warned of,
   * the record skipped); passed on if it reads them after all. Out of recordsAt(): a damaged capture's path.
   */
  private badFrame(t: number, buf: Uint8Array, p: number, len: number, id: number, stream: number, v: CaptureVisitor, fileBase: number, info: BlockInfo, shift: number, recStart: number): void {
    const r = this.metaReader;
    r.buf = buf;
    r.pos = p;
    r.end = p + len;
    const base = fileBase + shift;
    r.base = fileBase < 0 ? 0 : base;
    try {
      const f = FRAME_SCRATCH;
      frameFields(r, id, this.parentDeltas, f);
      v.frame!(stream, id, f[0]!, f[1]!, f[2]!);
    } catch (e) {
      if (!(e instanceof ReadError)) throw e;
      this.badMeta(e, t, len, fileBase, info, shift + recStart);
    }
    // Not a view of this block past its record: a waiting block's copy would stay reachable through it (and with
    // it the 32 MiB region of slabs it was carved from, to the end of a read: block-pool.ts).
    r.buf = NO_BYTES;
  }

  /**
   * A meta record other than a FRAME for a visitor with frame(): decoded and passed to the visitor's meta(), a
   * ReadError of its fields warned of. Out of recordsAt() on purpose: the reports' inlining budget of 2000 bytes
   * (src/util/report-flags.ts) took the orderer's meta() into the loop once the loop itself got smaller (round
   * twenty-one, dec21), and the records it checks change their maps as the read goes on (a snapshot's ownNs or a
   * GC record's times past 2^30 ns: a field of small integers becomes one of doubles, the record's map is made
   * anew). Each change deoptimized recordsAt() and compiled it again, OSR and whole, with everything it inlines:
   * 21-33 compiles of 35-75 ms in churn's `stats` instead of 9-10, each a few MiB of compiler zone in malloc's
   * heap, the last ones on top of the read's largest moment (docs/benchmarks.md, "The records loop's meta path,
   * round twenty-two"). Since round twenty-four the records keep one map for the whole read (meta.ts, UNSET: every
   * field tagged from its map's first record), which holds whether this is inlined or not (meta-maps.test.ts:
   * with a small visitor V8 inlines it, and recordsAt stays optimized while the records' numbers pass 2^30). What
   * is left for the call to keep out of the loop: a record kind met for the first time late in a read (a map the
   * inlined checks have not seen). Not a guarantee either: at 169 bytes of bytecode in the reports' bundle (V8
   * inlines up to 460) it is left a call because the reports' hot callees take the budget first; with small
   * visitors, or lighter observers (branch obs23), V8 inlines it. Meta records are a few per block: the call costs nothing measurable.
   */
  private metaAt(t: number, buf: Uint8Array, p: number, len: number, stream: number, nodes: StreamNodes, v: CaptureVisitor, fileBase: number, info: BlockInfo, shift: number, recStart: number): void {
    const r = this.metaReader;
    r.buf = buf;
    r.pos = p;
    r.end = p + len;
    // The sum on every meta record, not only on those of uncompressed blocks: a capture's last blocks are often
    // its only uncompressed ones, and an add met there for the first time deoptimized (see the top of records()).
    const base = fileBase + shift;
    r.base = fileBase < 0 ? 0 : base;
    try {
      const rec = decodeMeta(t, r, stream, nodes, this.parentDeltas);
      if (rec !== undefined) v.meta(rec);
    } catch (e) {
      if (!(e instanceof ReadError)) throw e;
      this.badMeta(e, t, len, fileBase, info, shift + recStart);
    }
    // Not a view of this block past its record (see recordsAt()).
    r.buf = NO_BYTES;
  }

  /** Warns of a meta record whose fields threw `e`, and says it was skipped. */
  private badMeta(e: ReadError, t: number, len: number, fileBase: number, info: BlockInfo, at: number): void {
    this.warn({
      kind: 'bad-record',
      offset: this.where(fileBase, info, at),
      skippedBytes: len,
      message: `malformed record of type ${t} ${this.describe(fileBase, info, at)}: ${e.message.replace(/ at offset \d+$/, '')}; skipped`,
    });
  }

  private where(fileBase: number, info: BlockInfo, at: number): number {
    return fileBase < 0 ? info.offset : fileBase + at;
  }

  private describe(fileBase: number, info: BlockInfo, at: number): string {
    return fileBase < 0 ? `at byte ${at} of the decompressed block at offset ${info.offset}` : `at offset ${fileBase + at}`;
  }
}

/** Blocks of threads' streams: the ones with events, and the ones an orderer may keep undecoded. */
/**
 * Hands a thread's block to the visitor's defer() undecoded. `bytes` is only valid during the caller's call:
 * a copy of it is kept in `pool` (compressed, if it is) until decode() ran to its end, once; a decode the
 * visitor stopped (STOP_BLOCK) keeps it, and rewinds the stream's interned ids (`nodes`) to the block's start.
 */
function deferCopy(v: CaptureVisitor, pool: BlockPool, nodes: StreamNodes, stream: number, rawLen: number, bytes: Uint8Array, decode: (kept: Uint8Array, to: CaptureVisitor) => void): void {
  let kept: Uint8Array | undefined = pool.copy(bytes);
  const slab = pool.lastSlab;
  v.defer?.({
    stream,
    rawLen,
    decode: (to) => {
      const b = kept;
      if (b === undefined) return;
      const frames = nodes.frames;
      const natives = nodes.natives;
      try {
        decode(b, to);
      } catch (e) {
        if (e !== STOP_BLOCK) {
          kept = undefined;
          pool.release(slab);
          throw e;
        }
        nodes.frames = frames;
        nodes.natives = natives;
        return;
      }
      kept = undefined;
      pool.release(slab);
    },
  } satisfies DeferredBlock);
}

/**
 * A brotli pack whose waiting parts were kept as its stored bytes. A barrier that comes late makes a busy
 * thread's blocks wait together: on a 50 M-event capture 126 of them (4 MiB of copies) at once, every
 * report's peak RSS (docs/benchmarks.md, "Reports' peak memory, round ten"); the pack they came in is about
 * a thirtieth of that stored. `rawBuffer`: the buffer the pack was first decompressed into (its parts are
 * views of it), only to tell its parts from the ones a column group puts back elsewhere.
 */
class StoredPack {
  constructor(
    readonly stored: Uint8Array,
    readonly rawLen: number,
    readonly rawBuffer: ArrayBufferLike | undefined,
  ) {}
}

/**
 * Decompresses StoredPacks again, one at a time, into one buffer of the decoder's inflater (its own long-lived
 * decompressor: a second one, with its output buffers per pack, made the peak worse, docs/benchmarks.md).
 * The orderer decodes waiting blocks in their file order, so a pack is decompressed again about once: it
 * stays in the buffer until another pack's part is wanted.
 */
class PackedParts {
  private current: StoredPack | undefined;
  private raw: Uint8Array = NO_BYTES;
  /** A part is being decoded from `raw` (a nested one would need another buffer). */
  private busy = false;

  constructor(private readonly inflater: BlockInflater) {}

  /** Calls `f` with `pack` decompressed (the same bytes as the first time: brotli is deterministic). */
  with(pack: StoredPack, f: (raw: Uint8Array) => void): void {
    if (this.busy) {
      // Wanted from inside a part's decoding (the orderer refilling another stream's run from inside its
      // straight stream's block): a part of the same pack reads the same bytes, which stay while busy.
      f(pack === this.current ? this.raw : decompressAgain(pack, undefined));
      return;
    }
    if (this.current !== pack) {
      this.current = undefined;
      this.raw = decompressAgain(pack, this.inflater);
      this.current = pack;
      // The copies its parts would have been, in slabs, were a region the pool lets go and asks a full
      // collection for (block-pool.ts); without it the burst's garbage (its blocks' closures, the packs'
      // stored bytes) stayed to the end of the read: 73.3 against 71.8-72.0 MB sampled at `summary`'s peak.
      outgrown(pack.rawLen);
    }
    this.busy = true;
    try {
      f(this.raw);
    } finally {
      this.busy = false;
    }
  }
}

/**
 * The inflater's buffer for packs decompressed again (past any nesting depth of the decoder's own), kept
 * for the next burst: a new one per pack or per burst, left to the collector, piled up (96.6 MiB of peak
 * RSS against 73.3 on a 50 M-event capture, docs/benchmarks.md, "Reports' peak memory, round ten: ...").
 */
const PACKED_DEPTH = 16;

function decompressAgain(pack: StoredPack, inflater: BlockInflater | undefined): Uint8Array {
  const raw = inflater?.decompress(pack.stored, pack.rawLen, PACKED_DEPTH) ?? brotliDecompressSync(pack.stored, { maxOutputLength: Math.max(pack.rawLen, 1) });
  // It decompressed to rawLen bytes the first time: anything else is a fault of this process, not of the file.
  if (raw.length !== pack.rawLen) throw new Error(`a pack decompressed again gave ${raw.length} bytes, not ${pack.rawLen}`);
  return raw;
}

/** deferCopy() for a part of a StoredPack: the same contract, the bytes decompressed again when decoded. */
function deferPacked(v: CaptureVisitor, packed: PackedParts, pack: StoredPack, nodes: StreamNodes, stream: number, rawLen: number, decode: (raw: Uint8Array, to: CaptureVisitor) => void): void {
  let done = false;
  v.defer?.({
    stream,
    rawLen,
    decode: (to) => {
      if (done) return;
      const frames = nodes.frames;
      const natives = nodes.natives;
      try {
        packed.with(pack, (raw) => decode(raw, to));
      } catch (e) {
        if (e !== STOP_BLOCK) {
          done = true;
          throw e;
        }
        nodes.frames = frames;
        nodes.natives = natives;
        return;
      }
      done = true;
    },
  } satisfies DeferredBlock);
}

/** The parts of group blocks, put back one group after another into the same buffer. */
class GroupScratch {
  private bytes = new Uint8Array(64 << 10);
  private readonly parts: GroupPart[] = [];

  /**
   * The group's parts (views of `raw` or of this scratch, valid until `raw` or the scratch is written
   * again), or why they cannot be read. A pack's parts are ranges of `raw` as they are: only the parts a
   * group puts back from its columns are copied here.
   */
  fill(raw: Uint8Array, native: boolean, slotted: boolean): readonly GroupPart[] | string {
    const heads: { stream: number; baseSeq: number; view: Uint8Array | undefined; at: number; len: number }[] = [];
    let used = 0;
    const r = ungroupEach(raw, native, slotted, (stream, baseSeq, b) => {
      if (b.buffer === raw.buffer) {
        heads.push({ stream, baseSeq, view: b, at: 0, len: b.length });
        return true;
      }
      if (used + b.length > this.bytes.length) {
        const grown = new Uint8Array(Math.max(used + b.length, this.bytes.length * 2));
        grown.set(this.bytes.subarray(0, used));
        this.bytes = grown;
      }
      this.bytes.set(b, used);
      heads.push({ stream, baseSeq, view: undefined, at: used, len: b.length });
      used += b.length;
      return true;
    });
    if (typeof r === 'string') return r;
    const parts = this.parts;
    parts.length = 0;
    for (const h of heads) parts.push({ stream: h.stream, baseSeq: h.baseSeq, payload: h.view ?? this.bytes.subarray(h.at, h.at + h.len) });
    return parts;
  }
}

function isThreadStream(stream: number): boolean {
  return stream !== STREAM_SERVICE && stream !== STREAM_MEMLENS;
}

/** Decodes a whole capture held in memory. */
export function decodeCapture(bytes: Uint8Array, visitor: CaptureVisitor, options: DecoderOptions = {}): CaptureDecoder {
  const d = new CaptureDecoder(visitor, options);
  d.feed(bytes);
  d.end();
  return d;
}
