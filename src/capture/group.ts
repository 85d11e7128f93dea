// Group blocks (kind 2, format version 4): the records of several streams in one block, stored by field
// (docs/capture-format.md, "Group blocks"). Only memlens's recompression writes them; the agent never does.
//
// Why: a program of many threads flushes every thread's stream in blocks of its own, and each block was
// compressed on its own, so what brotli learnt from one thread's records did not help with the next
// thread's (many_threads: 18 streams of one block of about 1.9 KB each). And a record's fields compress
// better beside the same field of other records than beside the other fields of the same record: a GC
// record's seq is the next event's, its start_seq its own seq, its time close to the previous one's, and a
// SNAPSHOT's sizes barely move between two snapshots; written as they are, the varints of neighbouring
// fields hid that from brotli (GC records were most of many_threads' compressed bytes).
//
// How: each part is one stream's ordinary records payload (kind 1: what a records block of that stream with
// that base_seq would hold). The parts' records are split into columns: the type bytes; the varint bytes of
// ALLOC and FREE fields (seq delta, address, size, stack, native stack), copied byte for byte; the fields
// of GC, SNAPSHOT, BARRIER, CHECKPOINT, FRAME and NATIVE_FRAME records as differences (below); every other record whole. A reader puts
// the parts' payloads back together byte for byte and decodes them as records blocks. The writer checks
// that before it writes a group (groupPayload() returns undefined otherwise), so a group always gives back
// exactly the records it was made from.
//
// Pure: bytes in, bytes out.

import { ALLOC_ABS_ADDR, ALLOC_BIT, ALLOC_SAME_STACK, ALLOC_SEQ1, FREE_ABS_ADDR, FREE_HAS_SIZE, FREE_MASK, FREE_SEQ1, FREE_TAG, RESERVED_TAG } from './format.js';
import { ByteWriter } from './varint.js';

export interface GroupPart {
  readonly stream: number;
  readonly baseSeq: number;
  /** The part's records, as the payload of an ordinary records block. */
  readonly payload: Uint8Array;
}

const enum Col {
  Type = 0,
  Seq = 1,
  Addr = 2,
  Size = 3,
  Stack = 4,
  Native = 5,
  Other = 6,
  /** The first column of the coded record types' fields (CODED below, in order). */
  Fields = 7,
}

/**
 * A field coded against a reference: the last seq of the stream (of its last event or coded record in the
 * group; at a part's start its base_seq if that is higher), the record's own field 0, or the previous record
 * of its type.
 */
const enum Ref {
  LastSeq,
  Field0,
  Previous,
  Zero,
}

interface Coded {
  /** The record type (the `t` of a length-prefixed record). */
  readonly type: number;
  /** The number of varint fields, each in a column of its own; 0: CHECKPOINT, coded by checkpointFields(). */
  readonly fields: number;
  readonly refs: readonly Ref[];
  /** The number of columns it takes. */
  readonly columns: number;
  /** Its first field is a seq (the stream's last seq from then on). */
  readonly seq: boolean;
}

// GC: seq, time, generation, collected, uncollectable, duration, start_seq. SNAPSHOT: seq, time, flags and
// eight sizes. BARRIER: seq. NATIVE_FRAME: parent (against the previous one's), ip. FRAME: parent (the same),
// code_id, instr: with native stacks on numpy_batch, their fields by column took 921 KB instead of 1.24 MB. CHECKPOINT: seq, time, heap, peak_heap, peak_seq, n, then n entries of a
// location (stream, stack, native stack, allocator: one column) and 7 figures, each figure against the same
// location's in an earlier checkpoint of the group (its updated_seq against the checkpoint's seq): 6 + 1 + 7
// columns. A quiet program changes the same few locations by a little between two checkpoints.
const P = Ref.Previous;
const CHECKPOINT_TYPE = 14;
const CHECKPOINT_HEAD = 6;
const CHECKPOINT_KEY = 4;
const CHECKPOINT_FIGURES = 7;
const CHECKPOINT_ENTRY = CHECKPOINT_KEY + CHECKPOINT_FIGURES;
// The second layout (GROUP_COLUMNS_2, format version 8) adds two codings after the first layout's six, whose
// columns stay where they were: a SNAPSHOT of 12 fields (own_ns last: the agent's since 2026-12-04, which the
// first layout carries whole in column 6) and GC_START's seq (whole in column 6 too, its seq a full varint).
// And a GC record's time and duration, most of a quiet capture's bytes (many_threads --aggregate: 2,510
// collections, their time and duration 11 of its 20 KB) and noisy in their low 10-12 bits, are split: the
// coded value's low byte in the field's column, its second byte and the rest (a varint) in columns of their
// own (SPLIT below), which brotli's quality 5 models apart (0.65 and 0.45 KB less); the duration against 0,
// not the previous one's (the difference of two noisy values is noisier than either).
const GC = 0;
const SNAPSHOT = 1;
const SNAPSHOT_OWN = 6;
const CODED: readonly Coded[] = [
  { type: 8, fields: 7, refs: [Ref.LastSeq, P, P, P, P, P, Ref.Field0], columns: 7, seq: true },
  { type: 7, fields: 11, refs: [Ref.LastSeq, P, P, P, P, P, P, P, P, P, P], columns: 11, seq: true },
  { type: 13, fields: 1, refs: [Ref.LastSeq], columns: 1, seq: true },
  { type: 14, fields: 0, refs: [Ref.LastSeq, P, P, P, P, P], columns: CHECKPOINT_HEAD + 1 + CHECKPOINT_FIGURES, seq: true },
  { type: 3, fields: 2, refs: [P, Ref.Zero], columns: 2, seq: false },
  { type: 1, fields: 3, refs: [P, Ref.Zero, Ref.Zero], columns: 3, seq: false },
  { type: 7, fields: 12, refs: [Ref.LastSeq, P, P, P, P, P, P, P, P, P, P, P], columns: 12, seq: true },
  { type: 23, fields: 1, refs: [Ref.LastSeq], columns: 1, seq: false },
];
/** The first layout's codings: CODED's first six. */
const CODED_1 = 6;
/** A GC record's references in the second layout (its duration against 0). */
const GC_REFS_2: readonly Ref[] = [Ref.LastSeq, P, P, P, P, Ref.Zero, Ref.Field0];
/** The GC fields split in the second layout (time, duration): for each, its second byte's and its rest's columns (the last four). */
const GC_TIME = 1;
const GC_DURATION = 5;
/** CODED's index of each record type (−1: not coded by field); a SNAPSHOT's of 11 fields (of 12: SNAPSHOT_OWN). */
const CODED_BY_TYPE = Int8Array.from({ length: 64 }, (_, t) => CODED.findIndex((c) => c.type === t));
const FIRST_COLUMN: number[] = [];
{
  let at: number = Col.Fields;
  for (const c of CODED) {
    FIRST_COLUMN.push(at);
    at += c.columns;
  }
}
/** The number of columns of the first layout (format version 4): CODED's first six. */
export const GROUP_COLUMNS_1 = Col.Fields + CODED.slice(0, CODED_1).reduce((n, c) => n + c.columns, 0);
/** The first of the four columns of the second layout's split GC fields: time's second byte, its rest, duration's second byte, its rest. */
const SPLIT = Col.Fields + CODED.reduce((n, c) => n + c.columns, 0);
/** The number of columns of the second layout (format version 8): every coding of CODED, then SPLIT's four. */
export const GROUP_COLUMNS_2 = SPLIT + 4;
/** The layout memlens writes where the header allows it (a group of any other number of columns is refused: a newer layout). */
export const GROUP_COLUMNS = GROUP_COLUMNS_2;
/** The layout being written or read: how many of CODED's codings it has (CODED_1 or CODED.length). */
let coded = CODED.length;
/** Values and differences are kept below this, so that every zigzag stays an exact integer. */
const LIMIT = 2 ** 52;

/** Thrown when a payload is not one this layout can carry (the caller writes ordinary blocks). */
const UNFIT = new Error('not groupable');

function zig(n: number): number {
  return n < 0 ? -2 * n - 1 : 2 * n;
}
function unzig(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

let vpos = 0;
/** A varint at b[p] (below 2^53); sets vpos past it. Throws UNFIT when cut or too long. */
function varintAt(b: Uint8Array, p: number, end: number): number {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (p >= end) throw UNFIT;
    const x = b[p++]!;
    v += (x & 0x7f) * mul;
    if (x < 0x80) {
      if (v >= 2 ** 53) throw UNFIT;
      vpos = p;
      return v;
    }
    mul *= 128;
  }
  throw UNFIT;
}

/** The coded values of one record (reused: records are coded one at a time). */
const CODED_SCRATCH: number[] = [];

/** Keeps a record's fields as the references of the next record of its type, in place. */
function keepFields(into: number[], fields: readonly number[]): void {
  into.length = fields.length;
  for (let f = 0; f < fields.length; f++) into[f] = fields[f]!;
}

/** Appends b[from, to) to w (a byte loop for the short records most are; no view). */
function copyBytes(b: Uint8Array, from: number, to: number, w: ByteWriter): void {
  if (to - from > 64) {
    w.raw(b.subarray(from, to));
    return;
  }
  w.ensure(to - from);
  const out = w.buf;
  let n = w.length;
  for (let i = from; i < to; i++) out[n++] = b[i]!;
  w.length = n;
}

/** Per-group state of the coded fields: the previous record of each coded type, a checkpoint's locations. */
class Previous {
  readonly values: number[][] = CODED.map(() => []);
  /** A CHECKPOINT location's figures, by `stream,stack,native,allocator`. */
  readonly locations = new Map<string, number[]>();
}

function locationKey(fields: readonly number[], at: number): string {
  return `${fields[at]},${fields[at + 1]},${fields[at + 2]},${fields[at + 3]}`;
}

/** The reference of field f of a CHECKPOINT whose fields so far are `fields` (entries past the head). */
function checkpointRef(f: number, fields: readonly number[], prev: Previous, last: number): number {
  if (f < CHECKPOINT_HEAD) return refValue(CODED[CODED_BY_TYPE[14]!]!.refs, f, fields, prev.values[CODED_BY_TYPE[14]!]!, last);
  const e = (f - CHECKPOINT_HEAD) % CHECKPOINT_ENTRY;
  if (e < CHECKPOINT_KEY) return 0;
  if (e === CHECKPOINT_ENTRY - 1) return fields[0]!; // updated_seq, against the checkpoint's seq
  const before = prev.locations.get(locationKey(fields, f - e));
  return before?.[e - CHECKPOINT_KEY] ?? 0;
}

/** The column of field f of a CHECKPOINT (k: its index in CODED). */
function checkpointColumn(k: number, f: number): number {
  if (f < CHECKPOINT_HEAD) return FIRST_COLUMN[k]! + f;
  const e = (f - CHECKPOINT_HEAD) % CHECKPOINT_ENTRY;
  return FIRST_COLUMN[k]! + CHECKPOINT_HEAD + (e < CHECKPOINT_KEY ? 0 : 1 + e - CHECKPOINT_KEY);
}

/** Notes a CHECKPOINT's head and its locations' figures as the references of later ones. */
function keepCheckpoint(k: number, fields: readonly number[], prev: Previous): void {
  prev.values[k] = fields.slice(0, CHECKPOINT_HEAD);
  for (let at = CHECKPOINT_HEAD; at + CHECKPOINT_ENTRY <= fields.length; at += CHECKPOINT_ENTRY) {
    prev.locations.set(locationKey(fields, at), fields.slice(at + CHECKPOINT_KEY, at + CHECKPOINT_ENTRY));
  }
}

/** Whether `fields` has the shape of a CHECKPOINT: its head, then as many whole entries as it says. */
function checkpointShape(fields: readonly number[]): boolean {
  return fields.length >= CHECKPOINT_HEAD && fields.length === CHECKPOINT_HEAD + fields[CHECKPOINT_HEAD - 1]! * CHECKPOINT_ENTRY;
}

/**
 * The columns of the group being coded, kept from one group to the next: grown once, not per group. A group
 * is coded to its end before the next one starts (the merger writes one at a time), so one set is enough.
 */
const COLS: ByteWriter[] = Array.from({ length: GROUP_COLUMNS_2 }, () => new ByteWriter(1 << 12));
/** The record's fields (CODED records), reused. */
const FIELDS: number[] = [];
/** Values of a seq or an address are kept below 2^53 (a double's exact integers), as a reader checks. */
const EXACT = 2 ** 53;
/** codeEvents()'s results: the seq of the last event (its stream's), the position after the last event. */
let evSeq = 0;
let evEnd = 0;

/**
 * The payload of a group block holding `parts`, or undefined when one of them cannot be carried (a record
 * that does not parse, a value too large, a varint of a coded record that is not the shortest): the
 * caller then writes them as ordinary blocks. `slotted`: addresses are coded against slots (version 3 and
 * later), so a whole address may follow an address field. `columns`: the layout (GROUP_COLUMNS_1 or
 * GROUP_COLUMNS_2). `checkpoints`: false, CHECKPOINTs go whole in column 6 (what `memlens run`'s follower
 * does in a quiet capture's end group: coding them there, cold, cost TurboFan's compile of codeCheckpoint,
 * about 10 ms, for 0.1-0.3 KB; docs/benchmarks.md, round thirty).
 *
 * A group gives back exactly the parts it was made of (ungroup), by construction rather than by decoding
 * it again (which doubled the cost): ALLOC and FREE varints are copied byte for byte, cut by the same rule
 * the reader cuts them by (a byte below 0x80, at most 10), and a seq or an address that the reader reads
 * for its value is below 2^53 here as there; a coded record's fields are taken only when every varint of it
 * is the shortest (so that writing the values again gives its bytes) and every value and difference is
 * below 2^52 (exact in a double); every other record goes whole, with its length as written. group.test.ts
 * checks the round trip on every record kind and on realistic streams.
 *
 * Cost: `memlens run`'s follower codes groups cold, in V8's interpreter and baseline code for most of a small
 * capture, and with --single-threaded V8 compiles its optimized code on the main thread: 30-60 ms for each
 * large function (docs/benchmarks.md, "Capture size, round five"). So the loop over ALLOC and FREE records
 * (most of every part) is a small function of its own, written out by hand (no call per varint, no check of
 * room per byte, no allocation per record), and the rest stays out of the hot loops.
 */
export function groupPayload(parts: readonly GroupPart[], native: boolean, slotted: boolean, columns: number = GROUP_COLUMNS, checkpoints = true): Uint8Array | undefined {
  if (columns !== GROUP_COLUMNS_1 && columns !== GROUP_COLUMNS_2) throw new Error(`no group layout of ${columns} columns`);
  coded = columns === GROUP_COLUMNS_2 ? CODED.length : CODED_1;
  const cols = COLS;
  for (const c of cols) c.reset();
  const prev = new Previous();
  const fields = FIELDS;
  const lastOf = new Map<number, number>();
  const tw = cols[Col.Type]!;
  try {
    for (const part of parts) {
      // Heads are written as varints of safe integers; a seq from 2^53 on is not exact in a double.
      if (!(part.baseSeq < EXACT && part.stream < EXACT)) return undefined;
      const b = part.payload;
      const end = b.length;
      // Each event column gains at most the part's length: room made once, for codeEvents.
      for (let c = Col.Type; c <= Col.Native; c++) cols[c]!.ensure(end);
      let seq = part.baseSeq;
      let last = Math.max(part.baseSeq, lastOf.get(part.stream) ?? 0);
      let i = 0;
      while (i < end) {
        const t = b[i]!;
        if (t >= ALLOC_BIT || (t & FREE_MASK) === FREE_TAG) {
          codeEvents(b, i, end, seq, native, slotted);
          i = evEnd;
          seq = evSeq;
          last = seq;
          continue;
        }
        i++;
        if (!(t >= 1 && t <= 63)) throw UNFIT;
        const lenAt = i;
        const len = varintAt(b, i, end);
        const start = vpos;
        const stop = start + len;
        if (stop > end) throw UNFIT;
        i = stop;
        const k = CODED_BY_TYPE[t]!;
        if (k === GC && coded > CODED_1) {
          if (codeGC2(b, lenAt, start, stop, last, prev, fields, cols)) {
            tw.u8(RESERVED_TAG | GC);
            last = fields[0]!;
            continue;
          }
        } else if (k >= 0 && k < coded && (checkpoints || t !== CHECKPOINT_TYPE)) {
          const as = codeFields(k, b, lenAt, start, stop, last, prev, fields, cols);
          if (as >= 0) {
            tw.u8(RESERVED_TAG | as);
            if (CODED[as]!.seq) last = fields[0]!;
            continue;
          }
        }
        tw.u8(t);
        copyBytes(b, lenAt, stop, cols[Col.Other]!);
      }
      lastOf.set(part.stream, last);
    }
  } catch (e) {
    if (e === UNFIT) return undefined;
    throw e;
  }
  return assemble(parts, cols, columns);
}

/**
 * Codes the ALLOC and FREE records from b[i] on into their columns (room made by the caller), up to the
 * first record of another kind or `end`; leaves the position after them in evEnd, the last one's seq in
 * evSeq. Throws UNFIT where a varint is cut or too long, or a seq or an address reaches 2^53.
 */
function codeEvents(b: Uint8Array, i: number, end: number, seq: number, native: boolean, slotted: boolean): void {
  const cols = COLS;
  const tw = cols[Col.Type]!;
  const sw = cols[Col.Seq]!;
  const aw = cols[Col.Addr]!;
  const zw = cols[Col.Size]!;
  const kw = cols[Col.Stack]!;
  const nw = cols[Col.Native]!;
  const tb = tw.buf;
  const sb = sw.buf;
  const ab = aw.buf;
  const zb = zw.buf;
  const kb = kw.buf;
  const nb = nw.buf;
  let tn = tw.length;
  let sn = sw.length;
  let an = aw.length;
  let zn = zw.length;
  let kn = kw.length;
  let nn = nw.length;
  while (i < end) {
    const t = b[i]!;
    const alloc = t >= ALLOC_BIT;
    if (!alloc && (t & FREE_MASK) !== FREE_TAG) break;
    i++;
    tb[tn++] = t;
    let x: number;
    let v = 0;
    let mul = 1;
    let stop: number;
    if ((t & (alloc ? ALLOC_SEQ1 : FREE_SEQ1)) !== 0) seq += 1;
    else {
      stop = i + 10 < end ? i + 10 : end;
      do {
        if (i >= stop) throw UNFIT;
        x = b[i++]!;
        sb[sn++] = x;
        v += (x & 0x7f) * mul;
        mul *= 128;
      } while (x >= 0x80);
      seq += v;
    }
    if (!(seq < EXACT)) throw UNFIT;
    v = 0;
    mul = 1;
    stop = i + 10 < end ? i + 10 : end;
    do {
      if (i >= stop) throw UNFIT;
      x = b[i++]!;
      ab[an++] = x;
      v += (x & 0x7f) * mul;
      mul *= 128;
    } while (x >= 0x80);
    if (v >= EXACT) throw UNFIT;
    // With slots, a whole address follows a slot's number (below 8) flagged as whole.
    let more = slotted && v < 8 && (t & (alloc ? ALLOC_ABS_ADDR : FREE_ABS_ADDR)) !== 0 ? 1 : 0;
    // The varints copied as they are, each to its column: [whole address], [size], [stack], [native stack].
    for (let f = 0; f < 4; f++) {
      if (f === 1) more = alloc || (t & FREE_HAS_SIZE) !== 0 ? 1 : 0;
      else if (f === 2) more = alloc && (t & ALLOC_SAME_STACK) === 0 ? 1 : 0;
      else if (f === 3) more = alloc && native ? 1 : 0;
      if (more === 0) continue;
      const out = f === 0 ? ab : f === 1 ? zb : f === 2 ? kb : nb;
      let n = f === 0 ? an : f === 1 ? zn : f === 2 ? kn : nn;
      stop = i + 10 < end ? i + 10 : end;
      do {
        if (i >= stop) throw UNFIT;
        x = b[i++]!;
        out[n++] = x;
      } while (x >= 0x80);
      if (f === 0) an = n;
      else if (f === 1) zn = n;
      else if (f === 2) kn = n;
      else nn = n;
    }
  }
  tw.length = tn;
  sw.length = sn;
  aw.length = an;
  zw.length = zn;
  kw.length = kn;
  nw.length = nn;
  evSeq = seq;
  evEnd = i;
}

/** A group's part table: how many parts, then each one's stream, base seq and payload length. */
function writeHeads(out: ByteWriter, parts: readonly GroupPart[]): void {
  out.varint(parts.length);
  for (const p of parts) {
    out.varint(p.stream);
    out.varint(p.baseSeq);
    out.varint(p.payload.length);
  }
}

/** The group's payload: its parts' heads, the columns' lengths, the columns. */
function assemble(parts: readonly GroupPart[], cols: readonly ByteWriter[], columns: number): Uint8Array {
  let total = 64 + 30 * parts.length + 10 * columns;
  for (let c = 0; c < columns; c++) total += cols[c]!.length;
  const out = new ByteWriter(total);
  writeHeads(out, parts);
  out.varint(columns);
  for (let c = 0; c < columns; c++) out.varint(cols[c]!.length);
  for (let c = 0; c < columns; c++) out.raw(cols[c]!.bytes());
  return out.bytes();
}

/**
 * A pack (format version 5): a group block of 0 columns, whose parts' payloads follow its heads as they are,
 * one after the other. What `memlens run`'s follower writes behind a fast writer: it costs a copy where
 * coding the columns costs a parse of every record (20-70 ns a byte), and brotli's quality 1 on 1 MiB of a
 * stream's blocks at once gives a fifth less than on each 32 KiB block alone, in less CPU
 * (docs/benchmarks.md, "Packs").
 */
export function packPayload(parts: readonly GroupPart[]): Uint8Array {
  let total = 16 + 30 * parts.length;
  for (const p of parts) total += p.payload.length;
  const out = new ByteWriter(total);
  writeHeads(out, parts);
  out.varint(0);
  for (const p of parts) out.raw(p.payload);
  return out.bytes();
}

/**
 * Reads the fields of a record (payload b[start, stop), its length varint at lenAt) into `fields`; false
 * when they are not plain varints that this coding gives back byte for byte (a varint that is not the
 * shortest, or a value from LIMIT on).
 */
function readFields(b: Uint8Array, lenAt: number, start: number, stop: number, fields: number[]): boolean {
  fields.length = 0;
  // Canonical (the shortest, so that writing the values again gives the record's bytes): a varint of more
  // than one byte does not end in 0.
  if (start - lenAt > 1 && b[start - 1] === 0) return false;
  let p = start;
  while (p < stop) {
    const v = varintAt(b, p, stop);
    if (v >= LIMIT || (vpos - p > 1 && b[vpos - 1] === 0)) return false;
    fields.push(v);
    p = vpos;
  }
  return true;
}

/**
 * Codes the fields of a GC, SNAPSHOT, BARRIER, FRAME, NATIVE_FRAME or GC_START record (payload b[start, stop),
 * its length varint at lenAt; k its type's index in CODED) into their columns; returns the index of the
 * coding it took (a SNAPSHOT of 12 fields: SNAPSHOT_OWN in the second layout), or −1 (nothing written) when
 * they are not plain varints that this coding gives back byte for byte (a field a newer writer added, a
 * varint that is not the shortest). CHECKPOINTs go to codeCheckpoint(): apart, the function the follower runs
 * on every GC record is a third of the size for V8 to compile (docs/benchmarks.md, "Cold cost, continued").
 */
function codeFields(k: number, b: Uint8Array, lenAt: number, start: number, stop: number, last: number, prev: Previous, fields: number[], cols: ByteWriter[]): number {
  let c = CODED[k]!;
  if (c.fields === 0) return codeCheckpoint(k, b, lenAt, start, stop, last, prev, fields, cols) ? k : -1;
  if (!readFields(b, lenAt, start, stop, fields)) return -1;
  if (fields.length !== c.fields) {
    if (!(k === SNAPSHOT && coded > SNAPSHOT_OWN && fields.length === CODED[SNAPSHOT_OWN]!.fields)) return -1;
    k = SNAPSHOT_OWN;
    c = CODED[k]!;
  }
  const before = prev.values[k]!;
  const out = CODED_SCRATCH;
  out.length = 0;
  for (let f = 0; f < fields.length; f++) {
    const d = fields[f]! - refValue(c.refs, f, fields, before, last);
    if (Math.abs(d) >= LIMIT) return -1;
    out.push(zig(d));
  }
  const first = FIRST_COLUMN[k]!;
  for (let f = 0; f < out.length; f++) cols[first + f]!.varint(out[f]!);
  keepFields(before, fields);
  return k;
}

/**
 * codeFields() of a GC record in the second layout (GC_REFS_2, its time and duration split): a function of its
 * own, written out for GC's seven fields, so that the one V8 compiles for every GC record of a short run stays
 * small (inline in codeFields, the split cost json_roundtrip --aggregate's follower 8 ms more of compiles;
 * docs/benchmarks.md, round thirty). False (nothing written) as codeFields().
 */
function codeGC2(b: Uint8Array, lenAt: number, start: number, stop: number, last: number, prev: Previous, fields: number[], cols: ByteWriter[]): boolean {
  if (!readFields(b, lenAt, start, stop, fields) || fields.length !== 7) return false;
  const before = prev.values[GC]!;
  const seq = fields[0]!;
  const dSeq = seq - last;
  const dTime = fields[1]! - (before[1] ?? 0);
  const dGen = fields[2]! - (before[2] ?? 0);
  const dCollected = fields[3]! - (before[3] ?? 0);
  const dUncollectable = fields[4]! - (before[4] ?? 0);
  const duration = fields[5]!;
  const dStart = fields[6]! - seq;
  if (!(Math.abs(dSeq) < LIMIT && Math.abs(dTime) < LIMIT && Math.abs(dGen) < LIMIT && Math.abs(dCollected) < LIMIT && Math.abs(dUncollectable) < LIMIT && duration < LIMIT && Math.abs(dStart) < LIMIT)) {
    return false;
  }
  const first = FIRST_COLUMN[GC]!;
  cols[first]!.varint(zig(dSeq));
  splitOut(cols[first + GC_TIME]!, cols[SPLIT]!, cols[SPLIT + 1]!, zig(dTime));
  cols[first + 2]!.varint(zig(dGen));
  cols[first + 3]!.varint(zig(dCollected));
  cols[first + 4]!.varint(zig(dUncollectable));
  // The duration against 0 is never negative: its value, not zigzagged.
  splitOut(cols[first + GC_DURATION]!, cols[SPLIT + 2]!, cols[SPLIT + 3]!, duration);
  cols[first + 6]!.varint(zig(dStart));
  keepFields(before, fields);
  return true;
}

/** A split value: its low byte to `lo`, its second byte to `mid`, the rest as a varint to `rest`. */
function splitOut(lo: ByteWriter, mid: ByteWriter, rest: ByteWriter, z: number): void {
  lo.u8(z % 256);
  mid.u8(Math.floor(z / 256) % 256);
  rest.varint(Math.floor(z / 65536));
}

/** codeFields() of a CHECKPOINT: its head, then each location's figures against the same location's before. */
function codeCheckpoint(k: number, b: Uint8Array, lenAt: number, start: number, stop: number, last: number, prev: Previous, fields: number[], cols: ByteWriter[]): boolean {
  if (!readFields(b, lenAt, start, stop, fields) || !checkpointShape(fields)) return false;
  const coded = CODED_SCRATCH;
  coded.length = 0;
  for (let f = 0; f < fields.length; f++) {
    const d = fields[f]! - checkpointRef(f, fields, prev, last);
    if (Math.abs(d) >= LIMIT) return false;
    coded.push(zig(d));
  }
  for (let f = 0; f < coded.length; f++) cols[checkpointColumn(k, f)]!.varint(coded[f]!);
  keepCheckpoint(k, fields, prev);
  return true;
}

/** The reference of field f (refs: its coding's references). */
function refValue(refs: readonly Ref[], f: number, fields: readonly number[], before: readonly number[], last: number): number {
  const r = refs[f] ?? Ref.Previous;
  if (r === Ref.LastSeq) return last;
  if (r === Ref.Field0) return fields[0]!;
  if (r === Ref.Zero) return 0;
  return before[f] ?? 0;
}

/** A column being read. */
class Reader {
  p: number;
  constructor(
    readonly b: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.p = start;
  }
  varint(): number {
    const v = varintAt(this.b, this.p, this.end);
    this.p = vpos;
    return v;
  }
  byte(): number {
    if (this.p >= this.end) throw UNFIT;
    return this.b[this.p++]!;
  }
  /** Copies one varint byte for byte to w; returns its value. */
  copy(w: ByteWriter): number {
    const v = varintAt(this.b, this.p, this.end);
    w.ensure(10);
    const out = w.buf;
    const b = this.b;
    let n = w.length;
    for (let i = this.p; i < vpos; i++) out[n++] = b[i]!;
    w.length = n;
    this.p = vpos;
    return v;
  }
}

/**
 * The parts of a group block's payload, each as an ordinary records payload, or a sentence saying why the
 * payload is not a group this reader can read (damage, or a newer layout).
 */
export function ungroup(payload: Uint8Array, native: boolean, slotted: boolean): GroupPart[] | string {
  const parts: GroupPart[] = [];
  const r = ungroupEach(payload, native, slotted, (stream, baseSeq, bytes) => {
    parts.push({ stream, baseSeq, payload: bytes.slice() });
    return true;
  });
  return typeof r === 'string' ? r : parts;
}

/** The part being put back together (reused: each part is handed on, or copied, before the next one). */
const PART = new ByteWriter(1 << 12);
/** What a group's CODED record is put back from (reused). */
const BODY = new ByteWriter(64);
/** The fields of the CODED record being put back (reused). */
const BACK_FIELDS: number[] = [];

/**
 * Puts the parts of a group block's payload back together one by one and hands each to `each` (its bytes
 * valid until `each` returns); stops at the first that `each` refuses (returns false). True when every
 * part went, false when one was refused, or why the payload cannot be read.
 */
export function ungroupEach(payload: Uint8Array, native: boolean, slotted: boolean, each: (stream: number, baseSeq: number, bytes: Uint8Array) => boolean): boolean | string {
  try {
    return ungroupOrThrow(payload, native, slotted, each);
  } catch (e) {
    if (e === UNFIT) return 'its records do not parse';
    throw e;
  }
}

/** The parts of a pack (packPayload), whose payloads start at `at`: they must fill the payload exactly. */
function unpack(
  payload: Uint8Array,
  at: number,
  heads: readonly { stream: number; baseSeq: number; len: number }[],
  each: (stream: number, baseSeq: number, bytes: Uint8Array) => boolean,
): boolean | string {
  let total = at;
  for (const h of heads) total += h.len;
  if (total !== payload.length) return `its parts take ${total - at} bytes where it holds ${payload.length - at}`;
  for (const h of heads) {
    if (!each(h.stream, h.baseSeq, payload.subarray(at, at + h.len))) return false;
    at += h.len;
  }
  return true;
}

/** As ungroupEach; throws UNFIT where a varint is cut or too long. The ALLOC/FREE loop is written out by hand, as codeEvents is (no call per varint, no allocation per record). */
function ungroupOrThrow(payload: Uint8Array, native: boolean, slotted: boolean, each: (stream: number, baseSeq: number, bytes: Uint8Array) => boolean): boolean | string {
  const head = new Reader(payload, 0, payload.length);
  const n = head.varint();
  if (n > payload.length) return `it names ${n} parts`;
  const heads: { stream: number; baseSeq: number; len: number }[] = [];
  for (let k = 0; k < n; k++) heads.push({ stream: head.varint(), baseSeq: head.varint(), len: head.varint() });
  const ncols = head.varint();
  if (ncols === 0) return unpack(payload, head.p, heads, each);
  if (ncols !== GROUP_COLUMNS_1 && ncols !== GROUP_COLUMNS_2) return `it has ${ncols} columns, not ${GROUP_COLUMNS_1} or ${GROUP_COLUMNS_2} (written by a newer memlens?)`;
  // The layout, by its number of columns: the first's codings are the second's first six, in the same columns.
  const codings = ncols === GROUP_COLUMNS_2 ? CODED.length : CODED_1;
  const cols: Reader[] = [];
  const lens: number[] = [];
  for (let c = 0; c < ncols; c++) lens.push(head.varint());
  let at = head.p;
  for (const len of lens) {
    if (at + len > payload.length) return 'its columns run past its end';
    cols.push(new Reader(payload, at, at + len));
    at += len;
  }
  const pb = payload;
  // The event columns' positions and ends, in locals (every column is a range of `payload`).
  let tp = cols[Col.Type]!.p;
  const tEnd = cols[Col.Type]!.end;
  let sp = cols[Col.Seq]!.p;
  const sEnd = cols[Col.Seq]!.end;
  let ap = cols[Col.Addr]!.p;
  const aEnd = cols[Col.Addr]!.end;
  let zp = cols[Col.Size]!.p;
  const zEnd = cols[Col.Size]!.end;
  let kp = cols[Col.Stack]!.p;
  const kEnd = cols[Col.Stack]!.end;
  let np = cols[Col.Native]!.p;
  const nEnd = cols[Col.Native]!.end;
  const prev = new Previous();
  const fields = BACK_FIELDS;
  const lastOf = new Map<number, number>();
  const body = BODY;
  const w = PART;
  for (const h of heads) {
    w.reset();
    w.ensure(Math.min(h.len, 1 << 24) + 64);
    let out = w.buf;
    let o = 0;
    let seq = h.baseSeq;
    let last = Math.max(h.baseSeq, lastOf.get(h.stream) ?? 0);
    while (o < h.len) {
      if (tp >= tEnd) return 'its type column ends early';
      const t = pb[tp++]!;
      const alloc = t >= ALLOC_BIT;
      if (alloc || (t & FREE_MASK) === FREE_TAG) {
        // At most 1 + 5 varints of 10 bytes.
        if (o + 64 > out.length) {
          w.length = o;
          w.ensure(64);
          out = w.buf;
        }
        out[o++] = t;
        let x: number;
        let v = 0;
        let mul = 1;
        let stop: number;
        if ((t & (alloc ? ALLOC_SEQ1 : FREE_SEQ1)) !== 0) seq += 1;
        else {
          stop = sp + 10 < sEnd ? sp + 10 : sEnd;
          do {
            if (sp >= stop) throw UNFIT;
            x = pb[sp++]!;
            out[o++] = x;
            v += (x & 0x7f) * mul;
            mul *= 128;
          } while (x >= 0x80);
          if (v >= EXACT) throw UNFIT;
          seq += v;
        }
        last = seq;
        v = 0;
        mul = 1;
        stop = ap + 10 < aEnd ? ap + 10 : aEnd;
        do {
          if (ap >= stop) throw UNFIT;
          x = pb[ap++]!;
          out[o++] = x;
          v += (x & 0x7f) * mul;
          mul *= 128;
        } while (x >= 0x80);
        if (v >= EXACT) throw UNFIT;
        if (slotted && v < 8 && (t & (alloc ? ALLOC_ABS_ADDR : FREE_ABS_ADDR)) !== 0) {
          stop = ap + 10 < aEnd ? ap + 10 : aEnd;
          do {
            if (ap >= stop) throw UNFIT;
            x = pb[ap++]!;
            out[o++] = x;
          } while (x >= 0x80);
        }
        if (alloc || (t & FREE_HAS_SIZE) !== 0) {
          stop = zp + 10 < zEnd ? zp + 10 : zEnd;
          do {
            if (zp >= stop) throw UNFIT;
            x = pb[zp++]!;
            out[o++] = x;
          } while (x >= 0x80);
        }
        if (alloc && (t & ALLOC_SAME_STACK) === 0) {
          stop = kp + 10 < kEnd ? kp + 10 : kEnd;
          do {
            if (kp >= stop) throw UNFIT;
            x = pb[kp++]!;
            out[o++] = x;
          } while (x >= 0x80);
        }
        if (alloc && native) {
          stop = np + 10 < nEnd ? np + 10 : nEnd;
          do {
            if (np >= stop) throw UNFIT;
            x = pb[np++]!;
            out[o++] = x;
          } while (x >= 0x80);
        }
        continue;
      }
      w.length = o;
      if ((t & 0xe0) === RESERVED_TAG) {
        const k = t & 0x1f;
        const c = CODED[k];
        if (c === undefined || k >= codings) return `it has a record of unknown coding ${k}`;
        const before = prev.values[k]!;
        fields.length = 0;
        if (c.fields === 0) {
          for (let f = 0; f < CHECKPOINT_HEAD; f++) fields.push(unzig(cols[checkpointColumn(k, f)]!.varint()) + checkpointRef(f, fields, prev, last));
          const n = fields[CHECKPOINT_HEAD - 1]!;
          // Each entry takes at least one byte in each of its columns.
          if (!(n >= 0 && n <= cols[checkpointColumn(k, CHECKPOINT_HEAD)]!.end)) return 'a coded CHECKPOINT has a bad entry count';
          const total = CHECKPOINT_HEAD + n * CHECKPOINT_ENTRY;
          for (let f = CHECKPOINT_HEAD; f < total; f++) fields.push(unzig(cols[checkpointColumn(k, f)]!.varint()) + checkpointRef(f, fields, prev, last));
        } else {
          const split = k === GC && codings > CODED_1;
          const refs = split ? GC_REFS_2 : c.refs;
          for (let f = 0; f < c.fields; f++) {
            let z: number;
            if (split && (f === GC_TIME || f === GC_DURATION)) {
              const at = SPLIT + (f === GC_TIME ? 0 : 2);
              const lo = cols[FIRST_COLUMN[k]! + f]!.byte();
              const mid = cols[at]!.byte();
              z = cols[at + 1]!.varint() * 65536 + mid * 256 + lo;
            } else {
              z = cols[FIRST_COLUMN[k]! + f]!.varint();
            }
            fields.push((split && f === GC_DURATION ? z : unzig(z)) + refValue(refs, f, fields, before, last));
          }
        }
        body.reset();
        for (const v of fields) {
          if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER && Number.isInteger(v))) return 'a coded field is out of range';
          body.varint(v);
        }
        w.u8(c.type);
        w.varint(body.length);
        copyBytes(body.buf, 0, body.length, w);
        if (c.fields === 0) keepCheckpoint(k, fields, prev);
        else keepFields(prev.values[k]!, fields);
        if (c.seq) last = fields[0]!;
      } else if (t >= 1 && t <= 63) {
        w.u8(t);
        const oc = cols[Col.Other]!;
        const len = oc.copy(w);
        if (oc.p + len > oc.end) return 'a record runs past its column';
        copyBytes(oc.b, oc.p, oc.p + len, w);
        oc.p += len;
      } else {
        return `it has a record of type ${t}`;
      }
      out = w.buf;
      o = w.length;
    }
    if (o !== h.len) return `a part of stream ${h.stream} is ${o} bytes long, not ${h.len}`;
    lastOf.set(h.stream, last);
    w.length = o;
    if (!each(h.stream, h.baseSeq, w.bytes())) return false;
  }
  return true;
}
