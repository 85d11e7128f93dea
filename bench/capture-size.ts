// Where a capture's bytes go: the file header, the block headers, and each record kind's bytes before and
// after compression. Not a test: a tool for deciding what to make smaller (docs/benchmarks.md, "Capture
// size").
//
//   npm run build && node dist/bench/capture-size.js FILE.mlens [FILE.mlens ...]
//
// Blocks are compressed whole (one brotli stream per block), so a record kind's share of the compressed
// bytes cannot be read off the file. Two figures stand for it: the share of each block's stored bytes
// given to each kind in proportion to its raw bytes in that block ("stored, pro rata"), and the size of
// all the kind's records compressed together at memlens's level ("alone"), which says how well that kind
// compresses when it is not mixed with others.

import { readFileSync } from 'node:fs';
import { brotliCompressSync, brotliDecompressSync, constants, inflateRawSync } from 'node:zlib';
import {
  BLOCK_FLAG_BROTLI,
  BLOCK_FLAG_DEFLATE,
  BLOCK_HEADER_LEN,
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
} from '../src/capture/format.js';
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

interface Kind {
  count: number;
  raw: number;
  storedShare: number;
  bytes: Uint8Array[];
}

function analyse(path: string): void {
  const file = readFileSync(path);
  const kinds = new Map<string, Kind>();
  const kind = (name: string): Kind => {
    let k = kinds.get(name);
    if (k === undefined) kinds.set(name, (k = { count: 0, raw: 0, storedShare: 0, bytes: [] }));
    return k;
  };
  let headerBytes = 0;
  let native = false;
  let slotted = false;
  let refs = false;
  // Bytes of each field of the ALLOC and FREE records (the type byte, seq delta, address, size, stacks).
  const fields = { type: 0, seq: 0, address: 0, size: 0, stack: 0, native: 0 };
  let events = 0;
  let blocks = 0;
  let compressed = 0;
  let blockHeaders = 0;
  let rawTotal = 0;
  let storedTotal = 0;
  const perStream = new Map<number, { blocks: number; stored: number }>();
  const framer = new BlockFramer({
    header: (h: CaptureHeader, bytes) => {
      headerBytes = bytes.length;
      native = (h.options & OPTION_NATIVE) !== 0;
      slotted = h.minReaderVersion >= SLOT_ADDRESS_VERSION;
      refs = h.minReaderVersion >= ADDR_REF_VERSION;
    },
    block: (info, bytes) => {
      blocks++;
      blockHeaders += info.headerLen;
      storedTotal += info.storedLen;
      const s = perStream.get(info.stream) ?? { blocks: 0, stored: 0 };
      s.blocks++;
      s.stored += info.storedLen + info.headerLen;
      perStream.set(info.stream, s);
      if (info.kind !== BLOCK_KIND_RECORDS) return;
      const stored = bytes.subarray(info.headerLen);
      let payload: Uint8Array = stored;
      if ((info.flags & BLOCK_FLAG_BROTLI) !== 0) payload = brotliDecompressSync(stored);
      else if ((info.flags & BLOCK_FLAG_DEFLATE) !== 0) payload = inflateRawSync(stored);
      if (info.flags !== 0) compressed++;
      rawTotal += payload.length;
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
            events++;
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
            if (slotted && (t & (alloc ? ALLOC_ABS_ADDR : FREE_ABS_ADDR)) !== 0 && Math.floor(a / 8) === 0) r.varint();
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
      for (const [name, n] of inBlock) kind(name).storedShare += (info.storedLen * n) / payload.length;
    },
    damaged: () => undefined,
    truncated: () => undefined,
  });
  framer.feed(file);
  framer.end();

  const pct = (n: number): string => `${((100 * n) / file.length).toFixed(1)}%`;
  console.log(`${path}: ${file.length} bytes, ${blocks} blocks (${compressed} compressed), raw payload ${rawTotal}, stored ${storedTotal}`);
  console.log(`  file header            ${String(headerBytes).padStart(9)}  ${pct(headerBytes)}`);
  console.log(`  block headers          ${String(blockHeaders).padStart(9)}  ${pct(blockHeaders)}`);
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
      `  per ALLOC/FREE event   ${per(fields.type + fields.seq + fields.address + fields.size + fields.stack + fields.native)} bytes raw: type ${per(fields.type)}, seq ${per(fields.seq)}, address ${per(fields.address)}, size ${per(fields.size)}, stack ${per(fields.stack)}, native ${per(fields.native)} (format version ${refs ? '7, addresses against slots or as references' : slotted ? '3-6, addresses against slots' : '1-2, addresses as deltas'})`,
    );
  }
  const streams = [...perStream].sort((a, b) => b[1].stored - a[1].stored);
  console.log(`  streams: ${streams.map(([s, v]) => `${s === 0xffffffff ? 'memlens' : s}: ${v.blocks} blocks ${v.stored} B`).join(', ')}`);
}

for (const path of process.argv.slice(2)) analyse(path);
void BLOCK_HEADER_LEN;
