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
// - With `groups` (a capture of format version 4), what is written together goes out as one group block
//   (group.ts): the pending blocks of every stream, in the order they would have been written, so that
//   brotli learns from all of them at once; a group that cannot carry them exactly falls back to ordinary
//   blocks.

import {
  ALLOC_ABS_ADDR,
  ALLOC_BIT,
  ALLOC_SAME_STACK,
  ALLOC_SEQ1,
  BLOCK_HEADER_LEN,
  BLOCK_KIND_GROUP,
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
import { GROUP_COLUMNS_1, groupPayload, packPayload, type GroupPart } from './group.js';
import type { BlockInfo } from './records.js';
import { ByteWriter, zigzagDecode, zigzagEncode } from './varint.js';

/** Blocks with fewer raw bytes than this are merged; larger ones compress well enough alone. */
export const SMALL_BLOCK = 16 * 1024;
/** A merged block is written once it holds this many bytes (brotli's 64 KiB window sees all of it). */
export const MERGED_BLOCK = 64 * 1024;
/**
 * At a capture's end, with the second group layout, the service stream's merged part is coded by column below
 * this many bytes, whatever WHOLE_PART says (a quiet run's: many_threads --aggregate's 9-13 KiB); from it on it is
 * packed as a block taken whole is.
 */
export const END_BY_COLUMN = 16 * 1024;
/** Every pending block is written once they hold this many bytes together (many threads). */
export const MERGE_PENDING_MAX = 1 << 20;

/**
 * With whole parts (BlockMerger's `wholeParts`, `memlens run`'s follower), a block of at least this many raw
 * bytes goes into the next group as a part of its own, as it is, rather than encoded again into its
 * stream's merged part (transcode); and a group whose bytes are mostly such parts is written as a pack
 * (group.ts, packPayload: no columns), not coded by column. Encoding every ALLOC and FREE again, then
 * splitting them into columns, is a parse of every record in JavaScript that a short run does cold: V8
 * interprets it, then compiles it with TurboFan on the main thread (--no-concurrent-recompilation), 30-50 ms
 * of the follower's 60-130 on a program of 0.1-0.5 s, where brotli takes 5-10 (docs/benchmarks.md, "The
 * group coder's cold cost, round nine"). A pack of the blocks as they are costs a copy; brotli, with its
 * window over the whole pack, gets most of what the columns gave (captures 1-19 % larger than coded by
 * column, all still well below memray's). Smaller blocks (a quiet program's, many threads' 10 ms flushes)
 * are merged and coded by column as before: there each block's restarted delta state (whole addresses, a
 * stack) is a large share of its bytes, and the columns halve such captures.
 */
export const WHOLE_PART = 8 * 1024;

/**
 * What a merger takes and how far it goes. The defaults (SMALL_BLOCK, MERGED_BLOCK, MERGE_PENDING_MAX) merge
 * only the small blocks of a quiet program. GROUPING merges the agent's full blocks too (32 KiB each) into
 * blocks of up to 1 MiB: brotli compresses a busy stream's 1 MiB at once both smaller and faster than 32
 * blocks of 32 KiB each on its own (quality 1: pyperf_raytrace's stream 2.63 -> 1.42 MiB in 40 % of the CPU
 * time; quality 2: web_requests's 7.77 -> 5.49 MiB in 70 %; docs/benchmarks.md, "Capture size, round three").
 */
export interface MergeLimits {
  /** Blocks with fewer raw bytes than this are merged. */
  readonly small: number;
  /** A merged block is written before it would exceed this many bytes. */
  readonly merged: number;
  /** Every pending block is written once they hold this many bytes together. */
  readonly pendingMax: number;
}

export const SMALL_BLOCKS: MergeLimits = { small: SMALL_BLOCK, merged: MERGED_BLOCK, pendingMax: MERGE_PENDING_MAX };
// Pending bytes stay bounded by MERGE_PENDING_MAX as before: a reader orders events by the barriers, which
// are in the service stream's block, written after the others' (flushAll), so what is pending is what a
// reader may hold before a barrier lets it go.
export const GROUPING: MergeLimits = { small: 1 << 20, merged: 1 << 20, pendingMax: MERGE_PENDING_MAX };

const MAX = Number.MAX_SAFE_INTEGER;

export interface MergedBlock {
  /** BLOCK_KIND_RECORDS, or BLOCK_KIND_GROUP (stream and base_seq then 0: the parts carry their own). */
  readonly kind: number;
  readonly stream: number;
  readonly baseSeq: number;
  readonly payload: Uint8Array;
}

interface Pending {
  readonly stream: number;
  /**
   * Parts of this stream closed before `w`'s (in order): blocks taken whole (addPart), and what `w`
   * held before each of them.
   */
  readonly parts: GroupPart[];
  /** Bytes pending in this stream: `parts`' and `w`'s; of them in blocks of WHOLE_PART or more. */
  bytes: number;
  fullBytes: number;
  /** False after a part was closed: `w` is empty, and its state is set by the next block merged into it. */
  open: boolean;
  w: ByteWriter;
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

/** A stream's pending parts, in order: those closed, then its merged part (when it holds anything, or is all there is). */
function partsOf(p: Pending): GroupPart[] {
  if (p.parts.length === 0) return [{ stream: p.stream, baseSeq: p.baseSeq, payload: p.w.bytes() }];
  return p.w.length > 0 ? [...p.parts, { stream: p.stream, baseSeq: p.baseSeq, payload: p.w.bytes() }] : p.parts;
}

export class BlockMerger {
  private readonly pending = new Map<number, Pending>();
  /** Streams in the order their pending block was opened (the order they are written in). */
  private order: number[] = [];
  private readonly scratch = new ByteWriter(SMALL_BLOCK * 2);
  private readonly slotsIn: SlotAddressReader;
  private readonly slotsSaved: SlotAddressWriter;
  /** Raw bytes pending, all streams together. */
  private held = 0;
  /** Of `held`, the bytes of blocks of WHOLE_PART or more (addPart). */
  private heldFull = 0;
  /** The last group written was a pack (wholeParts): blocks of every size are taken whole (addPart). */
  private packing = false;

  /**
   * `native`: the capture's ALLOC records carry a native stack (header option 1). `slotted`: its addresses
   * are coded against slots (min_reader_version 3 and later). `groups`: write group blocks (the output's
   * header says format version 4). `refs`: its addresses may be references (min_reader_version 7 and later).
   * `wholeParts`: blocks of WHOLE_PART or more go into groups whole, and a group mostly of them is a pack (the
   * output's header must say format version 5). `allWhole` (with `wholeParts`): blocks of every size go in
   * whole and every group is a pack: no record is parsed (transcode, groupPayload). `groupColumns`: the
   * layout of the groups coded by column (group.ts: GROUP_COLUMNS_1, format version 4, or GROUP_COLUMNS_2,
   * whose header must say format version 8).
   */
  constructor(
    private readonly native: boolean,
    private readonly emit: (block: MergedBlock) => void,
    private limits: MergeLimits = SMALL_BLOCKS,
    private readonly slotted = false,
    private groups = false,
    private readonly refs = false,
    private readonly wholeParts = false,
    private readonly allWhole = false,
    private readonly groupColumns = GROUP_COLUMNS_1,
  ) {
    this.slotsIn = new SlotAddressReader(refs);
    this.slotsSaved = new SlotAddressWriter(refs);
  }

  /** What to merge from now on (what is pending stays, and is written by the new limits' rules). */
  setLimits(limits: MergeLimits): void {
    this.limits = limits;
  }

  /** Whether what is written from now on goes in group blocks (the file's header must say version 4). */
  setGroups(on: boolean): void {
    this.groups = on;
  }

  /**
   * Takes a whole, good block (`bytes`: header and stored payload). Returns false when the block is not one
   * to merge: the caller then writes it itself, after calling flushAll().
   */
  add(info: BlockInfo, bytes: Uint8Array): boolean {
    // memlens's own stream (EXIT, appended after the program ended) stays where it is: at the end.
    if (info.kind !== BLOCK_KIND_RECORDS || info.flags !== 0 || info.headerLen !== BLOCK_HEADER_LEN || info.rawLen >= this.limits.small || info.stream === STREAM_MEMLENS) {
      return false;
    }
    const payload = bytes.subarray(info.headerLen, info.headerLen + info.storedLen);
    let p = this.pending.get(info.stream);
    if (p !== undefined && p.bytes + payload.length > this.limits.merged) {
      this.flush(info.stream);
      p = undefined;
    }
    if (this.groups && this.wholeParts && (this.allWhole || info.rawLen >= WHOLE_PART || this.packing || (this.heldFull > 0 && this.heldFull * 2 >= this.held))) {
      this.addPart(p, info, payload, info.rawLen >= WHOLE_PART);
      return true;
    }
    const fresh = p === undefined;
    if (p === undefined) p = this.fresh(info.stream, info.baseSeq, []);
    else if (!p.open) this.reopen(p, info.baseSeq);
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
    p.bytes += w.length;
    this.held += w.length;
    if (this.held >= this.limits.pendingMax) this.flushAll();
    return true;
  }

  /** A stream's pending state, with `parts` closed already (then its merged part waits for a block: reopen). */
  private fresh(stream: number, baseSeq: number, parts: GroupPart[]): Pending {
    return {
      stream,
      parts,
      bytes: 0,
      fullBytes: 0,
      open: parts.length === 0,
      w: new ByteWriter(Math.min(this.limits.merged, MERGED_BLOCK) + 256),
      baseSeq,
      seq: baseSeq,
      addr: 0,
      stack: 0,
      native: 0,
      events: 0,
      slots: new SlotAddressWriter(this.refs),
    };
  }

  /** Starts `p`'s merged part again from an empty state, its base_seq `baseSeq` (`open`: a block is merged into it now). */
  private reopen(p: Pending, baseSeq: number, open = true): void {
    if (p.w.length > 0) p.w = new ByteWriter(Math.min(this.limits.merged, MERGED_BLOCK) + 256);
    p.open = open;
    p.baseSeq = baseSeq;
    p.seq = baseSeq;
    p.addr = 0;
    p.stack = 0;
    p.native = 0;
    p.events = 0;
    p.slots.reset();
  }

  /**
   * Takes a block as a part of its own of the next group (a `full` one, of WHOLE_PART or more, or any while
   * the groups are packs): after what its stream has pending, which is closed as a part (the stream's next
   * block to merge starts a merged part again). Its records are not read here: a pack holds them as they
   * are, a group coded by column parses them (and one that cannot carry them goes out as ordinary blocks,
   * this one as it was).
   */
  private addPart(p: Pending | undefined, info: BlockInfo, payload: Uint8Array, full: boolean): void {
    // A copy (a plain Uint8Array, as the merged parts are): `payload` is a view of the caller's buffer.
    const part: GroupPart = { stream: info.stream, baseSeq: info.baseSeq, payload: new Uint8Array(payload) };
    if (p === undefined) {
      p = this.fresh(info.stream, info.baseSeq, [part]);
      this.pending.set(info.stream, p);
      this.order.push(info.stream);
    } else {
      if (p.w.length > 0) p.parts.push({ stream: p.stream, baseSeq: p.baseSeq, payload: p.w.bytes() });
      p.parts.push(part);
      // What comes next of this stream is merged from an empty state, in a part after this one.
      this.reopen(p, info.baseSeq, false);
    }
    p.bytes += payload.length;
    if (full) {
      p.fullBytes += payload.length;
      this.heldFull += payload.length;
    }
    this.held += payload.length;
    if (this.held >= this.limits.pendingMax) this.flushAll();
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
        if (this.slotted) {
          const a = varintAt(b, i, end);
          addr = SlotAddressReader.isWhole(a, wBit) ? this.slotsIn.whole(a, varintAt(b, vpos, end), !alloc) : this.slotsIn.read(a, wBit, !alloc);
        } else if (wBit) addr = varintAt(b, i, end);
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
          if (p.slots.write(w, addr, !alloc)) out |= alloc ? ALLOC_ABS_ADDR : FREE_ABS_ADDR;
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
        if (alloc && !this.slotted) {
          // Every part of the delta state (seq, address, stack, native stack) is now the same in the block's
          // own coding and in the merged block's: the rest of the block is copied as it is, only read for
          // the state it ends in (a full block of 32 KiB goes through here). Not with addresses coded against
          // slots (version 3): the block's later addresses name slots that its own coding had filled from
          // empty and the merged block's holds otherwise, so every record is written again.
          if (!this.scanRest(b, i, end, p)) throw NOT_MERGEABLE;
          w.raw(b.subarray(i, end));
          return true;
        }
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

  /**
   * Reads records [i, end) of a block whose delta state already equals `p`'s, and leaves `p` in the state
   * they end in (seq, address, stacks, events). False when a record does not parse or a value is out of
   * range. Inlined varints: this is most of merging a busy stream's blocks.
   */
  private scanRest(b: Uint8Array, i: number, end: number, p: Pending): boolean {
    let seq = p.seq;
    let addr = p.addr;
    let stack = p.stack;
    let nstack = p.native;
    let events = p.events;
    const native = this.native;
    while (i < end) {
      const t = b[i++]!;
      const alloc = t >= ALLOC_BIT;
      if (alloc || (t & FREE_MASK) === FREE_TAG) {
        events++;
        // Up to four varints: seq delta (unless SEQ1), address, size (ALLOC, or FREE with size), stack
        // delta (ALLOC without SAME_STACK), native stack delta (ALLOC, native captures).
        if ((t & (alloc ? ALLOC_SEQ1 : FREE_SEQ1)) !== 0) seq += 1;
        else {
          let v = 0;
          let mul = 1;
          let x: number;
          do {
            if (i >= end || mul > 2 ** 63) return false;
            x = b[i++]!;
            v += (x & 0x7f) * mul;
            mul *= 128;
          } while (x >= 0x80);
          seq += v;
        }
        {
          let v = 0;
          let mul = 1;
          let x: number;
          do {
            if (i >= end || mul > 2 ** 63) return false;
            x = b[i++]!;
            v += (x & 0x7f) * mul;
            mul *= 128;
          } while (x >= 0x80);
          if ((t & (alloc ? ALLOC_ABS_ADDR : FREE_ABS_ADDR)) !== 0) addr = v;
          else addr += zigzagDecode(v) * 8;
        }
        if (alloc || (t & FREE_HAS_SIZE) !== 0) {
          let x: number;
          let n = 0;
          do {
            if (i >= end || n++ >= 10) return false;
            x = b[i++]!;
          } while (x >= 0x80);
        }
        if (alloc && (t & ALLOC_SAME_STACK) === 0) {
          let v = 0;
          let mul = 1;
          let x: number;
          do {
            if (i >= end || mul > 2 ** 63) return false;
            x = b[i++]!;
            v += (x & 0x7f) * mul;
            mul *= 128;
          } while (x >= 0x80);
          stack += zigzagDecode(v);
        }
        if (alloc && native) {
          let v = 0;
          let mul = 1;
          let x: number;
          do {
            if (i >= end || mul > 2 ** 63) return false;
            x = b[i++]!;
            v += (x & 0x7f) * mul;
            mul *= 128;
          } while (x >= 0x80);
          nstack += zigzagDecode(v);
        }
        if (!(addr >= 0 && addr <= MAX && stack >= 0 && stack <= MAX && nstack >= 0 && nstack <= MAX && seq <= MAX)) return false;
      } else if (t >= 1 && t <= 63) {
        let len = 0;
        let mul = 1;
        let x: number;
        do {
          if (i >= end || mul > 2 ** 63) return false;
          x = b[i++]!;
          len += (x & 0x7f) * mul;
          mul *= 128;
        } while (x >= 0x80);
        i += len;
        if (i > end) return false;
      } else {
        return false;
      }
    }
    p.seq = seq;
    p.addr = addr;
    p.stack = stack;
    p.native = nstack;
    p.events = events;
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
    this.held -= p.bytes;
    this.heldFull -= p.fullBytes;
    this.order = this.order.filter((s) => s !== stream);
    this.write(partsOf(p), p.fullBytes);
  }

  /**
   * Writes every pending block: threads' first, the service stream's (with its barriers) last. `last`: the
   * end of the capture; the service stream's block then goes in a block of its own (a group of one part when
   * groups are on), so that the capture's last block is the one with the agent's TRAILER and no thread's
   * events: `memlens run` checks how the capture ended by decoding its last blocks but not the threads'
   * (cleanEnd in src/cli/capture-file.ts), which a group of every stream made it decode whole.
   */
  flushAll(last = false): void {
    const parts: GroupPart[] = [];
    let service: Pending | undefined;
    let full = 0;
    for (const s of this.order) {
      const p = this.pending.get(s)!;
      if (s === STREAM_SERVICE) service = p;
      else {
        parts.push(...partsOf(p));
        full += p.fullBytes;
      }
    }
    if (service !== undefined) parts.push(...partsOf(service));
    this.pending.clear();
    this.order = [];
    this.held = 0;
    this.heldFull = 0;
    if (last && service !== undefined && parts.length > 1) {
      // The service stream's last part alone (with whole parts it may have several: the others go before).
      const end = parts[parts.length - 1]!;
      const endFull = end.payload.length >= WHOLE_PART ? end.payload.length : 0;
      this.write(parts.slice(0, -1), Math.max(0, full + service.fullBytes - endFull));
      // With the second group layout (SNAPSHOT's own_ns by field) the stream's merged part (its blocks merged
      // into one: at the end of a short run every SNAPSHOT, CHECKPOINT and BARRIER of it) is coded by column
      // after a group coded by column, whatever its length; counted as full for its length, as a block taken
      // whole is, it was packed once it held WHOLE_PART (many_threads --aggregate: a part of 9-13 KiB, 5.05 ->
      // 4.4 KB). Its CHECKPOINTs go whole (column 6): coding them, cold, cost ~10 ms of TurboFan compiles of
      // codeCheckpoint for 0.1-0.3 KB. Only below END_BY_COLUMN: numpy_work --aggregate's part of 31 KiB, coded
      // so, cost the follower 11 ms more for 0.7 KB of 42 (docs/benchmarks.md, round thirty).
      const merged = service.w.length > 0 || service.parts.length === 0;
      if (merged && !this.packing && this.groupColumns !== GROUP_COLUMNS_1 && end.payload.length < END_BY_COLUMN) this.write(parts.slice(-1), 0, false);
      else this.write(parts.slice(-1), endFull);
    } else {
      this.write(parts, full + (service?.fullBytes ?? 0));
    }
  }

  /**
   * Emits `parts` in order: one group block when groups are on and it can carry them, else one block each.
   * `full`: how many of their bytes came in blocks of WHOLE_PART or more; half of them or more (with whole
   * parts), the group is a pack, and until a group is not, the blocks that follow go in whole whatever
   * their size (merging them would run transcode for 1-2 % of the bytes, and TurboFan's compile of it); so
   * do they while such blocks are half of what is pending (add).
   */
  private write(parts: readonly GroupPart[], full: number, checkpoints = true): void {
    if (parts.length === 0) return;
    if (this.groups) {
      let total = 0;
      for (const p of parts) total += p.payload.length;
      this.packing = this.wholeParts && (this.allWhole || (full > 0 && full * 2 >= total));
      const payload = this.packing ? packPayload(parts) : groupPayload(parts, this.native, this.slotted, this.groupColumns, checkpoints);
      if (payload !== undefined) {
        this.emit({ kind: BLOCK_KIND_GROUP, stream: 0, baseSeq: 0, payload });
        return;
      }
    }
    for (const p of parts) this.emit({ kind: BLOCK_KIND_RECORDS, ...p });
  }

  /** Raw bytes held, not yet written. */
  get pendingBytes(): number {
    return this.held;
  }
}
