// Where a capture's bytes go: the file header, the block headers, and each record kind's bytes before and
// after compression. Not a test: a tool for deciding what to make smaller (docs/benchmarks.md, "Capture
// size").
//
//   npm run build && node dist/bench/capture-size.js FILE.mlens [FILE.mlens ...]
//
// A group block (a pack, or several streams' records by column: docs/capture-format.md, "Group blocks") is
// read as a reader reads it: its parts' records are counted, and its stored bytes shared among its parts in
// proportion to their length.
//
// Blocks are compressed whole (one brotli stream per block), so a record kind's share of the compressed
// bytes cannot be read off the file. Two figures stand for it: the share of each block's stored bytes
// given to each kind in proportion to its raw bytes in that block ("stored, pro rata"), and the size of
// all the kind's records compressed together at memlens's level ("alone"), which says how well that kind
// compresses when it is not mixed with others.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, brotliDecompressSync, constants, inflateRawSync } from 'node:zlib';
import {
  BLOCK_FLAG_BROTLI,
  BLOCK_FLAG_DEFLATE,
  BLOCK_KIND_GROUP,
  BLOCK_KIND_RECORDS,
  FREE_HAS_SIZE,
  FREE_MASK,
  FREE_SEQ1,
  FREE_TAG,
  ALLOC_BIT,
  ALLOC_SAME_STACK,
  ALLOC_SEQ1,
  ALLOC_ABS_ADDR,
  FREE_ABS_ADDR,
  OPTION_NATIVE,
  SLOT_ADDRESS_VERSION,
  ADDR_REF_VERSION,
  GROUP_FORMAT_VERSION,
} from '../src/capture/format.js';
import { ungroupEach } from '../src/capture/group.js';
import { DEFAULT_COMPRESS_LEVEL } from '../src/capture/compress.js';
import { ByteReader } from '../src/capture/varint.js';
import { BlockFramer } from '../src/capture/framing.js';
import type { CaptureHeader } from '../src/capture/records.js';

const NAMES: Record<number, string> = {
  1: 'FRAME',
  2: 'CODE',
  3: 'NATIVE_FRAME',
  4: 'THREAD',
  5: 'THREAD_NAME',
  6: 'THREAD_EXIT',
  7: 'SNAPSHOT',
  8: 'GC',
  9: 'FORK',
  10: 'IMAGE',
  11: 'IMAGE_UNLOAD',
  12: 'MARKER',
  13: 'BARRIER',
  14: 'CHECKPOINT',
  15: 'TRAILER',
  16: 'AGENT_STATS',
  17: 'EXIT',
  18: 'NOTE',
  19: 'STACK_RESET',
  20: 'GC_STATE',
  21: 'CENSUS',
  22: 'PRESSURE',
};

export interface KindSize {
  count: number;
  raw: number;
  storedShare: number;
  bytes: Uint8Array[];
}

/** Where a capture's bytes go, by record kind; the records of group blocks (packs or columns) counted too. */
export interface CaptureSize {
  readonly fileBytes: number;
  headerBytes: number;
  /** Blocks as the file holds them: a group block counts once. */
  blocks: number;
  compressed: number;
  /** Group blocks (docs/capture-format.md, "Group blocks"), of which packs (0 columns), and their parts. */
  groups: number;
  packs: number;
  parts: number;
  /** Group blocks whose payload did not read as a group (their records are not counted), and why. */
  unreadableGroups: string[];
  blockHeaders: number;
  rawTotal: number;
  storedTotal: number;
  readonly kinds: Map<string, KindSize>;
  /** Bytes of each field of the ALLOC and FREE records (the type byte, seq delta, address, size, stacks). */
  readonly fields: { type: number; seq: number; address: number; size: number; stack: number; native: number };
  events: number;
  slotted: boolean;
  refs: boolean;
  /** Per stream: its records blocks, and a group's parts as blocks of their streams. */
  readonly perStream: Map<number, { blocks: number; stored: number }>;
}

/** A group block's payload is a pack when its column count (after the parts' heads) is 0. */
function isPack(payload: Uint8Array): boolean {
  const r = new ByteReader(payload);
  const n = r.varint();
  for (let i = 0; i < 3 * n; i++) r.varint();
  return r.varint() === 0;
}

export function captureSize(file: Uint8Array): CaptureSize {
  const size: CaptureSize = {
    fileBytes: file.length,
    headerBytes: 0,
    blocks: 0,
    compressed: 0,
    groups: 0,
    packs: 0,
    parts: 0,
    unreadableGroups: [],
    blockHeaders: 0,
    rawTotal: 0,
    storedTotal: 0,
    kinds: new Map(),
    fields: { type: 0, seq: 0, address: 0, size: 0, stack: 0, native: 0 },
    events: 0,
    slotted: false,
    refs: false,
    perStream: new Map(),
  };
  const { kinds, fields, perStream } = size;
  const kind = (name: string): KindSize => {
    let k = kinds.get(name);
    if (k === undefined) kinds.set(name, (k = { count: 0, raw: 0, storedShare: 0, bytes: [] }));
    return k;
  };
  let native = false;
  const streamStored = (stream: number, stored: number): void => {
    const s = perStream.get(stream) ?? { blocks: 0, stored: 0 };
    s.blocks++;
    s.stored += stored;
    perStream.set(stream, s);
  };
  // One records payload (a records block's, or a group's part): `storedLen` of the file's bytes stand for it.
  const records = (payload: Uint8Array, storedLen: number): void => {
    size.rawTotal += payload.length;
    const inBlock = new Map<string, number>();
    // The records' lengths, read with the capture's own cursor (a damaged record ends the block as 'corrupt').
    const r = new ByteReader(payload);
    while (r.pos < payload.length) {
      const start = r.pos;
      const t = r.u8();
      let name: string;
      try {
        if ((t & ALLOC_BIT) !== 0 || (t & FREE_MASK) === FREE_TAG) {
          const alloc = (t & ALLOC_BIT) !== 0;
          name = alloc ? 'ALLOC' : 'FREE';
          size.events++;
          fields.type++;
          let at = r.pos;
          const field = (f: keyof typeof fields): void => {
            fields[f] += r.pos - at;
            at = r.pos;
          };
          if ((t & (alloc ? ALLOC_SEQ1 : FREE_SEQ1)) === 0) r.varint();
          field('seq');
          // Version 3: w with a delta of 0 means a whole address follows the slot field.
          const a = r.varint();
          if (size.slotted && (t & (alloc ? ALLOC_ABS_ADDR : FREE_ABS_ADDR)) !== 0 && Math.floor(a / 8) === 0) r.varint();
          field('address');
          if (alloc || (t & FREE_HAS_SIZE) !== 0) r.varint();
          field('size');
          if (alloc && (t & ALLOC_SAME_STACK) === 0) r.varint();
          field('stack');
          if (alloc && native) r.varint();
          field('native');
        } else if (t >= 1 && t <= 63) {
          const len = r.varint();
          name = NAMES[t] ?? `type ${t}`;
          r.pos = Math.min(payload.length, r.pos + len);
        } else {
          name = 'corrupt';
          r.pos = payload.length;
        }
      } catch {
        name = 'corrupt';
        r.pos = payload.length;
      }
      const p = r.pos;
      const k = kind(name);
      k.count++;
      k.raw += p - start;
      k.bytes.push(payload.subarray(start, p));
      inBlock.set(name, (inBlock.get(name) ?? 0) + (p - start));
    }
    if (payload.length > 0) for (const [name, n] of inBlock) kind(name).storedShare += (storedLen * n) / payload.length;
  };
  let grouped = false;
  const framer = new BlockFramer({
    header: (h: CaptureHeader, bytes) => {
      size.headerBytes = bytes.length;
      native = (h.options & OPTION_NATIVE) !== 0;
      size.slotted = h.minReaderVersion >= SLOT_ADDRESS_VERSION;
      size.refs = h.minReaderVersion >= ADDR_REF_VERSION;
      grouped = h.minReaderVersion >= GROUP_FORMAT_VERSION;
    },
    block: (info, bytes) => {
      size.blocks++;
      size.blockHeaders += info.headerLen;
      size.storedTotal += info.storedLen;
      const group = info.kind === BLOCK_KIND_GROUP && grouped;
      if (info.kind !== BLOCK_KIND_RECORDS && !group) return;
      const stored = bytes.subarray(info.headerLen);
      let payload: Uint8Array = stored;
      if ((info.flags & BLOCK_FLAG_BROTLI) !== 0) payload = brotliDecompressSync(stored);
      else if ((info.flags & BLOCK_FLAG_DEFLATE) !== 0) payload = inflateRawSync(stored);
      if (info.flags !== 0) size.compressed++;
      if (!group) {
        streamStored(info.stream, info.storedLen + info.headerLen);
        records(payload, info.storedLen);
        return;
      }
      // A group block (a pack, or columns): its parts are records payloads of their streams, put back as a
      // reader does; the group's stored bytes go to each part in proportion to its length.
      size.groups++;
      const parts: { stream: number; payload: Uint8Array }[] = [];
      const r = ungroupEach(payload, native, size.slotted, (stream, _baseSeq, part) => {
        parts.push({ stream, payload: part.slice() });
        return true;
      });
      if (typeof r === 'string') {
        size.unreadableGroups.push(r);
        return;
      }
      if (isPack(payload)) size.packs++;
      size.parts += parts.length;
      const total = parts.reduce((n, p) => n + p.payload.length, 0);
      for (const p of parts) {
        const share = total > 0 ? (info.storedLen * p.payload.length) / total : 0;
        streamStored(p.stream, share + (info.headerLen * p.payload.length) / Math.max(1, total));
        records(p.payload, share);
      }
    },
    damaged: () => undefined,
    truncated: () => undefined,
  });
  framer.feed(file);
  framer.end();
  return size;
}

function print(path: string, size: CaptureSize): void {
  const { kinds, fields, perStream, events } = size;
  const pct = (n: number): string => `${((100 * n) / size.fileBytes).toFixed(1)}%`;
  const groups = size.groups > 0 ? `, ${size.groups} group blocks (${size.packs} packs) of ${size.parts} parts` : '';
  console.log(`${path}: ${size.fileBytes} bytes, ${size.blocks} blocks (${size.compressed} compressed)${groups}, raw payload ${size.rawTotal}, stored ${size.storedTotal}`);
  for (const why of size.unreadableGroups) console.log(`  a group block not counted: ${why}`);
  console.log(`  file header            ${String(size.headerBytes).padStart(9)}  ${pct(size.headerBytes)}`);
  console.log(`  block headers          ${String(size.blockHeaders).padStart(9)}  ${pct(size.blockHeaders)}`);
  console.log(`  ${'record'.padEnd(14)} ${'count'.padStart(8)} ${'raw'.padStart(9)} ${'stored, pro rata'.padStart(17)} ${'share'.padStart(6)} ${'alone'.padStart(8)}`);
  const sorted = [...kinds].sort((a, b) => b[1].storedShare - a[1].storedShare);
  for (const [name, k] of sorted) {
    const all = Buffer.concat(k.bytes);
    const alone = brotliCompressSync(all, {
      params: { [constants.BROTLI_PARAM_QUALITY]: DEFAULT_COMPRESS_LEVEL, [constants.BROTLI_PARAM_LGWIN]: 16 },
    }).length;
    console.log(`  ${name.padEnd(14)} ${String(k.count).padStart(8)} ${String(k.raw).padStart(9)} ${k.storedShare.toFixed(0).padStart(17)} ${pct(k.storedShare).padStart(6)} ${String(alone).padStart(8)}`);
  }
  if (events > 0) {
    const per = (n: number): string => (n / events).toFixed(2);
    console.log(
      `  per ALLOC/FREE event   ${per(fields.type + fields.seq + fields.address + fields.size + fields.stack + fields.native)} bytes raw: type ${per(fields.type)}, seq ${per(fields.seq)}, address ${per(fields.address)}, size ${per(fields.size)}, stack ${per(fields.stack)}, native ${per(fields.native)} (format version ${size.refs ? '7, addresses against slots or as references' : size.slotted ? '3-6, addresses against slots' : '1-2, addresses as deltas'})`,
    );
  }
  const streams = [...perStream].sort((a, b) => b[1].stored - a[1].stored);
  console.log(`  streams: ${streams.map(([s, v]) => `${s === 0xffffffff ? 'memlens' : s}: ${v.blocks} blocks ${v.stored.toFixed(0)} B`).join(', ')}`);
}

// Run as a script (not when a test imports it).
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const path of process.argv.slice(2)) print(path, captureSize(readFileSync(path)));
}
