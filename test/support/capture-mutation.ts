// Damaged captures whose every block still checks out: the report fuzzer's inputs. A byte flipped at
// random lands in a block whose CRC then fails, and the decoder skips the block: the reports never see
// the damage. Here the damage is put in before the blocks are framed, so the CRCs are right and every
// value reaches the model and the reports:
//
//   - mutateRecords(): decoded records with a field set to an edge value (0, 2^32, 2^48, 2^53 − 1, …),
//     a hostile string, a census whose numbers are negative or huge; records duplicated, dropped, moved.
//   - mutatePayloads(): the decompressed payload bytes of blocks flipped, cut, repeated, then framed again
//     with a fresh CRC (encodeBlock), so the decoder meets bad varints and records inside good blocks.

import { brotliDecompressSync, inflateRawSync } from 'node:zlib';
import { encodeBlock, CaptureWriter } from '../../src/capture/encoder.js';
import { BLOCK_FLAG_BROTLI, BLOCK_FLAGS_COMPRESSED, MAX_BLOCK_PAYLOAD } from '../../src/capture/format.js';
import { BlockFramer } from '../../src/capture/framing.js';
import { CaptureDecoder } from '../../src/capture/decoder.js';
import type { CaptureHeader } from '../../src/capture/records.js';
import { Collector, writeItem, type Item } from './collect.js';

const MAX = Number.MAX_SAFE_INTEGER;

/** Values that sit on the edges the model and the reports have to survive. */
const EDGE_NUMBERS: readonly number[] = [0, 1, 2, 7, 8, 63, 64, 255, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 47, 2 ** 48, 2 ** 52, 2 ** 53 - 2, MAX];

/** Names a hostile program can give its functions, files and threads (terminal controls, bidi, size). */
export const HOSTILE_STRINGS: readonly string[] = [
  '',
  '\u001b[2J\u001b[31mred\u001b]0;title\u0007',
  'a\u202eexe.txt\u2066\u2069\u200f',
  '\u009b31m\u0085\u0090\u009c',
  'x'.repeat(5000),
  '=cmd|"/c calc"!A1',
  '\r\n\t\u0000\u007f',
  '日本\ud800',
];

export interface SplitCapture {
  /** The file header's bytes as they are. */
  readonly header: Uint8Array;
  /** Each good block: its stream, base seq and decompressed payload. */
  readonly blocks: { readonly stream: number; readonly baseSeq: number; readonly payload: Uint8Array }[];
}

/** The file header and the payloads of the good blocks (decompressed) of a capture. */
export function splitCapture(bytes: Uint8Array): SplitCapture {
  let header = new Uint8Array(0);
  const blocks: { stream: number; baseSeq: number; payload: Uint8Array }[] = [];
  const framer = new BlockFramer({
    header: (_h, b) => {
      header = b.slice();
    },
    block: (info, b) => {
      const stored = b.subarray(info.headerLen);
      const payload =
        (info.flags & BLOCK_FLAGS_COMPRESSED) === 0 ? stored.slice() : (info.flags & BLOCK_FLAG_BROTLI) !== 0 ? new Uint8Array(brotliDecompressSync(stored)) : new Uint8Array(inflateRawSync(stored));
      blocks.push({ stream: info.stream, baseSeq: info.baseSeq, payload });
    },
    damaged: () => undefined,
    truncated: () => undefined,
  });
  framer.feed(bytes);
  framer.end();
  return { header, blocks };
}

/** A capture of `split`'s header and blocks, each framed with its CRC. */
export function joinCapture(split: SplitCapture): Uint8Array {
  const parts = [split.header, ...split.blocks.map((b) => encodeBlock(b.stream, b.baseSeq, b.payload))];
  return new Uint8Array(Buffer.concat(parts));
}

/** Flips, cuts and repeats bytes inside the payloads of a few blocks, keeping their CRCs right. */
export function mutatePayloads(bytes: Uint8Array, rand: () => number): Uint8Array {
  const split = splitCapture(bytes);
  if (split.blocks.length === 0) return bytes;
  const blocks = split.blocks.map((b) => ({ ...b }));
  const n = 1 + Math.floor(rand() * 3);
  for (let k = 0; k < n; k++) {
    const i = Math.floor(rand() * blocks.length);
    const b = blocks[i]!;
    const p = Array.from(b.payload);
    const at = Math.floor(rand() * (p.length + 1));
    const r = rand();
    if (r < 0.5) {
      // One byte set to a value that changes a type byte's bits or a varint's continuation.
      if (p.length > 0) p[Math.min(at, p.length - 1)] = [0x00, 0x7f, 0x80, 0xff, Math.floor(rand() * 256)][Math.floor(rand() * 5)]!;
    } else if (r < 0.7) {
      p.splice(at, 1 + Math.floor(rand() * 8));
    } else if (r < 0.85) {
      p.splice(at, 0, ...Array.from({ length: 1 + Math.floor(rand() * 12) }, () => (rand() < 0.5 ? 0xff : Math.floor(rand() * 256))));
    } else {
      const from = Math.floor(rand() * p.length);
      p.splice(at, 0, ...p.slice(from, from + 1 + Math.floor(rand() * 40)));
    }
    blocks[i] = { ...b, payload: Uint8Array.from(p.slice(0, MAX_BLOCK_PAYLOAD)) };
  }
  if (rand() < 0.2) {
    // A block repeated, or two swapped: records out of order, stacks defined twice.
    const i = Math.floor(rand() * blocks.length);
    const j = Math.floor(rand() * blocks.length);
    if (rand() < 0.5) blocks.splice(j, 0, blocks[i]!);
    else [blocks[i], blocks[j]] = [blocks[j]!, blocks[i]!];
  }
  return joinCapture({ header: split.header, blocks });
}

/** The header and records of a capture, in file order, with the block each came from. */
export function decodeItems(bytes: Uint8Array): { header: CaptureHeader; items: Item[]; blockOf: number[]; blockStreams: number[] } {
  const c = new Collector();
  const d = new CaptureDecoder(c);
  d.feed(bytes);
  d.end();
  if (c.c.header === undefined) throw new Error('the seed capture has no header');
  return { header: c.c.header, items: c.c.items, blockOf: c.c.blockOf, blockStreams: c.c.blocks.map((b) => b.stream) };
}

function pick<T>(rand: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)]!;
}

function edgeNumber(rand: () => number): number {
  return rand() < 0.8 ? pick(rand, EDGE_NUMBERS) : Math.floor(rand() * 2 ** Math.floor(rand() * 54));
}

/** A census JSON text with some numbers made negative, huge or fractional, and some strings hostile. */
function mutateCensusJson(text: string, rand: () => number): string {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return text;
  }
  const visit = (v: unknown): unknown => {
    if (typeof v === 'number') return rand() < 0.3 ? pick(rand, [-1, -(2 ** 53), 1e308, 0.5, 2 ** 60, MAX]) : v;
    if (typeof v === 'string') return rand() < 0.2 ? pick(rand, HOSTILE_STRINGS) : v;
    if (Array.isArray(v)) return v.map(visit);
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, visit(x)]));
    return v;
  };
  return JSON.stringify(visit(o));
}

// Fields whose value the encoder derives or checks (ids are implicit in the format, types name the record).
const FIXED_FIELDS = new Set(['type', 'id', 'recordType']);

/** One field of `it` set to an edge value or a hostile string (a copy; `it` is left alone). */
function mutateField(it: Item, rand: () => number): Item {
  const copy = { ...it } as Record<string, unknown>;
  if (copy['type'] === 'census' && rand() < 0.6) {
    copy['json'] = mutateCensusJson(String(copy['json']), rand);
    return copy as unknown as Item;
  }
  const keys = Object.keys(copy).filter((k) => !FIXED_FIELDS.has(k) && (typeof copy[k] === 'number' || typeof copy[k] === 'string' || Array.isArray(copy[k])));
  if (keys.length === 0) return it;
  const k = pick(rand, keys);
  const v = copy[k];
  if (typeof v === 'number') copy[k] = edgeNumber(rand);
  else if (typeof v === 'string') copy[k] = pick(rand, HOSTILE_STRINGS);
  else if (Array.isArray(v) && v.length > 0) {
    // A list of entries (CHECKPOINT, IMAGE segments): one field of one entry.
    const entries = v.map((e: unknown) => (typeof e === 'object' && e !== null ? { ...(e as Record<string, unknown>) } : e));
    const e = entries[Math.floor(rand() * entries.length)];
    if (typeof e === 'object' && e !== null) {
      const ek = pick(rand, Object.keys(e));
      const ev = (e as Record<string, unknown>)[ek];
      if (typeof ev === 'number') (e as Record<string, unknown>)[ek] = edgeNumber(rand);
    }
    copy[k] = entries;
  }
  return copy as unknown as Item;
}

/** The header with one field set to an edge value or a hostile string. */
function mutateHeader(h: CaptureHeader, rand: () => number): CaptureHeader {
  const copy = { ...h } as Record<string, unknown>;
  const keys = Object.keys(copy).filter((k) => !['version', 'minReaderVersion', 'unknownFields', 'startWallNs', 'startMonoNs'].includes(k));
  const k = pick(rand, keys);
  const v = copy[k];
  if (typeof v === 'number') copy[k] = k === 'options' ? Math.floor(rand() * 32) : edgeNumber(rand);
  else if (typeof v === 'string') copy[k] = pick(rand, HOSTILE_STRINGS);
  else if (Array.isArray(v)) copy[k] = [...(v as string[]), pick(rand, HOSTILE_STRINGS)];
  return copy as unknown as CaptureHeader;
}

/**
 * A capture of `bytes`'s records with a few of them changed (values, strings, order, copies, losses),
 * written again by the encoder block by block. Undefined when the encoder refuses the result (a value it
 * cannot write, such as a stack delta beyond 2^53): the caller counts those.
 */
export function mutateRecords(bytes: Uint8Array, rand: () => number): Uint8Array | undefined {
  const d = decodeItems(bytes);
  const items = d.items.slice();
  const blockOf = d.blockOf.slice();
  let header = d.header;
  const n = 1 + Math.floor(rand() * 4);
  for (let k = 0; k < n && items.length > 0; k++) {
    const i = Math.floor(rand() * items.length);
    const r = rand();
    const census = items.findIndex((it) => it.type === 'census');
    // Censuses are few among many records: pick one on purpose now and then.
    if (r < 0.1 && census >= 0) items[census] = mutateField(items[census]!, rand);
    else if (r < 0.6) items[i] = mutateField(items[i]!, rand);
    else if (r < 0.7) header = mutateHeader(header, rand);
    else if (r < 0.8) {
      items.splice(i, 0, items[i]!);
      blockOf.splice(i, 0, blockOf[i]!);
    } else if (r < 0.9) {
      items.splice(i, 1);
      blockOf.splice(i, 1);
    } else {
      const j = Math.floor(rand() * items.length);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
  }
  try {
    const w = new CaptureWriter({ header });
    const frames = new Map<number, number>();
    const natives = new Map<number, number>();
    let current = -1;
    for (let i = 0; i < items.length; i++) {
      let it = items[i]!;
      const b = blockOf[i] ?? -1;
      if (b !== current) {
        const prev = d.blockStreams[current];
        if (prev !== undefined) w.flush(prev);
        current = b;
      }
      // Node ids are implicit: a dropped or repeated FRAME shifts the ids after it, as damage would.
      if (it.type === 'stack-reset') {
        frames.set(it.stream, 0);
        natives.set(it.stream, 0);
      } else if (it.type === 'frame') {
        const id = (frames.get(it.stream) ?? 0) + 1;
        frames.set(it.stream, id);
        it = { ...it, id };
      } else if (it.type === 'native-frame') {
        const id = (natives.get(it.stream) ?? 0) + 1;
        natives.set(it.stream, id);
        it = { ...it, id };
      }
      writeItem(w, it);
    }
    return w.finish();
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) return undefined;
    throw e;
  }
}
