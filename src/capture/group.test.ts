import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Collector, type Collected, type Item } from '../../test/support/collect.js';
import { everyRecordItems, TEST_HEADER, writeInFileOrder, writeRealistic } from '../../test/support/synthetic.js';
import { recompressCapture } from './compress.js';
import { decodeCapture } from './decoder.js';
import { concat, encodeBlock } from './encoder.js';
import { brotliCompressSync, brotliDecompressSync } from 'node:zlib';
import { BLOCK_FLAG_BROTLI, BLOCK_KIND_GROUP, GROUP_FORMAT_VERSION, GROUP_LAYOUT2_VERSION, OPTION_NATIVE, RESERVED_TAG } from './format.js';
import { BlockFramer } from './framing.js';
import { GROUP_COLUMNS_1, GROUP_COLUMNS_2, groupPayload, packPayload, ungroup, type GroupPart } from './group.js';
import { encodeHeader } from './header.js';
import type { CheckpointEntry } from './records.js';
import { ByteWriter } from './varint.js';

/** The distinct column counts of a capture's group blocks (brotli or not). */
function groupColumns(bytes: Uint8Array): number[] {
  const counts = new Set<number>();
  const f = new BlockFramer({
    header: () => undefined,
    block: (info, b) => {
      if (info.kind !== BLOCK_KIND_GROUP) return;
      const stored = b.subarray(info.headerLen);
      const raw = (info.flags & BLOCK_FLAG_BROTLI) !== 0 ? new Uint8Array(brotliDecompressSync(stored)) : stored;
      const n = columnsOf(raw).length;
      if (n > 0) counts.add(n);
    },
    damaged: () => undefined,
    truncated: () => undefined,
  });
  f.feed(bytes);
  f.end();
  return [...counts];
}

/** Items by stream, each stream's in order (a recompression keeps each stream's order, not the file's). */
function byStreamOf(items: readonly Item[]): Map<number, Item[]> {
  const m = new Map<number, Item[]>();
  for (const it of items) {
    const s = 'stream' in it ? it.stream : -1;
    const l = m.get(s) ?? [];
    l.push(it);
    m.set(s, l);
  }
  return m;
}

function decode(bytes: Uint8Array): Collected {
  const c = new Collector();
  decodeCapture(bytes, c);
  return c.c;
}

/** The capture's blocks as parts (uncompressed records blocks only). */
function partsOf(bytes: Uint8Array): { native: boolean; parts: GroupPart[] } {
  const parts: GroupPart[] = [];
  let native = false;
  const f = new BlockFramer({
    header: (h) => (native = (h.options & OPTION_NATIVE) !== 0),
    block: (info, b) => {
      if (info.flags === 0 && info.stream !== 0xffffffff) parts.push({ stream: info.stream, baseSeq: info.baseSeq, payload: b.slice(info.headerLen) });
    },
    damaged: () => undefined,
    truncated: () => undefined,
  });
  f.feed(bytes);
  f.end();
  return { native, parts };
}

/** Groups `parts` in both layouts (the first: what memlens wrote before format version 8) and reads them back. */
function roundTrip(parts: readonly GroupPart[], native: boolean): void {
  for (const columns of [GROUP_COLUMNS_1, GROUP_COLUMNS_2]) {
    const g = groupPayload(parts, native, true, columns);
    assert.ok(g !== undefined, 'the parts can be grouped');
    const back = ungroup(g, native, true);
    assert.ok(typeof back !== 'string', typeof back === 'string' ? back : '');
    assert.deepEqual(
      back.map((p) => [p.stream, p.baseSeq, Buffer.from(p.payload).toString('hex')]),
      parts.map((p) => [p.stream, p.baseSeq, Buffer.from(p.payload).toString('hex')]),
      `${columns} columns`,
    );
  }
}

/** A length-prefixed record of type t with these varint fields. */
function rec(t: number, ...fields: number[]): Uint8Array {
  const w = new ByteWriter(16);
  for (const f of fields) w.varint(f);
  const body = w.bytes();
  const o = new ByteWriter(16);
  o.u8(t);
  o.varint(body.length);
  o.raw(body);
  return o.bytes();
}

/**
 * A quiet program's parts, as an agent of 2026-12-07 writes them: two threads' GC records (a collection every 28
 * seqs, ~133 µs apart with noise and now and then a thread switch, ~20 µs long, a GC_START before every fourth;
 * one of 2^40 ns), and the service stream's BARRIERs, SNAPSHOTs of 11 fields then of 12 (own_ns) and
 * CHECKPOINTs.
 */
function quietParts(): GroupPart[] {
  const parts: GroupPart[] = [];
  for (const stream of [1, 2]) {
    const r = [rec(1, 1, 4 + stream, 10)];
    let seq = 1000 * stream;
    let time = 37_066_608 - stream * 5_000_000;
    for (let k = 0; k < 40; k++) {
      seq += 28;
      time += 130_000 + ((k * 7919) % 6000) + (k % 9 === 0 ? 1_300_000 : 0);
      const gen = k % 10 === 9 ? 1 : 0;
      if (k % 4 === 0) r.push(rec(23, seq));
      const duration = k === 33 ? 2 ** 40 + 5 : 19_000 + ((k * 4513) % 3000) + (gen ? 2_000_000 : 0);
      r.push(rec(8, seq, time, gen, k % 3, 0, duration, seq));
    }
    parts.push({ stream, baseSeq: 1000 * stream, payload: concat(r) });
  }
  const s: Uint8Array[] = [];
  for (let k = 0; k < 12; k++) {
    const seq = 1100 + 60 * k;
    s.push(rec(13, seq - 1));
    const sizes = [9_000_000 + 4096 * (k % 3), 6_000_000, 3_000_000, 0, 0, 700_000 + 64 * k, 0, 0];
    s.push(k < 4 ? rec(7, seq, 10_000_000 * k + 17, 0, ...sizes) : rec(7, seq, 10_000_000 * k + 17, 8, ...sizes, 150_000 * k + ((k * 7919) % 1000)));
    if (k % 5 === 4) s.push(rec(14, seq + 1, 10_000_000 * k + 40, 500_000 + k, 600_000, 1050, 2, 1, 3, 0, 0, 10 + k, 4000 + k, 5, 2000, 7, 2800, seq - 7, 2, 5, 0, 0, 20, 9000, 2, 1000, 3, 1100, seq - 30));
  }
  parts.push({ stream: 0, baseSeq: 1099, payload: concat(s) });
  return parts;
}

/** The columns of a group payload (none for a pack), each a view of it. */
function columnsOf(g: Uint8Array): Uint8Array[] {
  let p = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const x = g[p++]!;
      v += (x & 0x7f) * mul;
      if (x < 0x80) return v;
      mul *= 128;
    }
  };
  const n = varint();
  for (let k = 0; k < 3 * n; k++) varint();
  const lens = Array.from({ length: varint() }, varint);
  return lens.map((len) => g.subarray(p, (p += len)));
}

/** The type column of a group payload. */
function typeColumn(g: Uint8Array): Uint8Array {
  return columnsOf(g)[0]!;
}

/**
 * quietParts() grouped by memlens of main at 1369c72 (the first layout, 45 columns; format versions 4 to 7),
 * base64: what the captures `memlens run` wrote before version 8 hold.
 */
const QUIET_GROUP_1 =
  'AwHoB7AFAtAPsAUAywjzAy2AAQAAAAAArAJQ+gFQUFDPAVAEDQQKBwcEBAkEBAwCCAQEAwIQBAcEBgQGBAAAAgICRRdAQEBAF0BA' +
  'QEAXQEBAQBdAQEBAF0BAQEAXQEBAQBdAQEBAF0BAQEAXQEBAQBdAQEBARRdAQEBAF0BAQEAXQEBAQBdAQEBAF0BAQEAXQEBAQBdA' +
  'QEBAF0BAQEAXQEBAQBdAQEBAQkFCQUJBQkFCB0NCB0IHQgdCB0IHQ0IHQgcChAgC9AgC5AkC1AoCxAsCtAwCpA0ClA4ChA8C9A8C' +
  '7A8C3BACzBECvBICrBMCnBQCjBUC/BUC7BYC3BcdvAqRtIkTCMDIpQSAm+4CwI23AQAA4N4qAADk1CQd+AqR4esXCMDopQSAm+4C' +
  'wI23AQAAoN8qAACD6C0dtAuRjs4cCMCopQSAm+4CwI23AQAA4N8qAACi+zYd8AuRu7AhCMDIpQSAm+4CwI23AQAAoOAqAADBjkAd' +
  'rAyR6JImCMDopQSAm+4CwI23AQAA4OAqAADgoUkd6AyRlfUqCMCopQSAm+4CwI23AQAAoOEqAAD/tFIdpA2RwtcvCMDIpQSAm+4C' +
  'wI23AQAA4OEqAACeyFsd4A2R77k0CMDopQSAm+4CwI23AQAAoOIqAAC922Q4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4' +
  'ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4OMD4+B+ejRCcqxCayRC4iRC2pxC0xRDShRDQ' +
  'oxCOmq8B7IEQ6p8Q6L0Qhv4PhJwQgroQoPoPnpgQ3I6vAbr2D7iUELayENTyD9KQENCuEM7MEOyMEKqDrwHoyBCGiRCEpxCCxRCg' +
  'hRCeoxCcwRC6gRD4964Btr0Q1P0P0psQ54DXDp6NEJyrEJrJELiJELanELTFENKFENCjEI6arwHsgRDqnxDovRCG/g+EnBCCuhCg' +
  '+g+emBDcjq8BuvYPuJQQtrIQ1PIP0pAQ0K4QzswQ7IwQqoOvAejIEIaJEISnEILFEKCFEJ6jEJzBELqBEPj3rgG2vRDU/Q/SmxAA' +
  'AAAAAAAAAAACAQAAAAAAAAAAAgEAAAAAAAAAAAIBAAAAAAAAAAACAQAAAAAAAAAAAgEAAAAAAAAAAAIBAAAAAAAAAAACAQAAAAAA' +
  'AAAAAgACAgMCAgMCAgMCAgMCAgMCAgMCAgMCAgMCAgMCAgMCAgMCAgMCAgMAAgIDAgIDAgIDAgIDAgIDAgIDAgIDAgIDAgIDAgID' +
  'AgIDAgIDAgIDAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
  'AAAAAAAAAAAAAAAAAADwqALSF50X0hedF9IXnRfSF50X0qn0AZ2p9AHSF50X0hedF9IXnRfSF50X0qn0AZ2p9AHSF50X0hedF9IX' +
  'nRfSF50X0qn0AZ2p9AHSF50X2tD9//8/pdD9//8/0hedF9IXnRfSqfQBrbH0AdIXnRfSF50X0hedF9IXnRfSqfQBnan0AdIXnRfS' +
  'F50X0hedF9IXnRfSqfQBnan0AdIXnRfSF50X0hedF9IXnRfSqfQBnan0AdIXnRfa0P3//z+l0P3//z/SF50X0hedF9Kp9AEAAAAA' +
  'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
  'AAICAgIigNrECYDaxAmA2sQJAAAAAIDRygiAQIBA/3+AttwFAAAAgJvuAgAAAAAAAAAAAAAAwLlVgAGAAYABAAAAAAAAAAAAdnZ2' +
  'dnR4eHh4dHgEBNDokiaAwtcvyIQ9CoCfSQC0EAAEAAIGAAAECgAAAgYAAAQKAAAcKAoAyD7QjAEKAAoEAACgH9APAAAOBgAA4CuY' +
  'EQAADz0PPQIACgwUFA==';

test('a group of the first layout (45 columns), as memlens wrote them before format version 8, reads back byte for byte; over older captures it is still written so', () => {
  const parts = quietParts();
  const old = Uint8Array.from(Buffer.from(QUIET_GROUP_1, 'base64'));
  const back = ungroup(old, false, true);
  assert.ok(typeof back !== 'string', typeof back === 'string' ? back : '');
  assert.deepEqual(
    back.map((p) => [p.stream, p.baseSeq, Buffer.from(p.payload).toString('hex')]),
    parts.map((p) => [p.stream, p.baseSeq, Buffer.from(p.payload).toString('hex')]),
  );
  // The writer of the first layout is unchanged: what a reader of version 4 to 7 reads.
  assert.equal(Buffer.from(groupPayload(parts, false, true, GROUP_COLUMNS_1)!).toString('base64'), QUIET_GROUP_1);
  // And a capture of version 7 holding it (what `memlens run` wrote until version 8) reads as its blocks do.
  const header = encodeHeader({ ...TEST_HEADER, options: 0 });
  const plain = decode(concat([header, ...parts.map((p) => encodeBlock(p.stream, p.baseSeq, p.payload))]));
  const grouped = decode(concat([header, encodeBlock(0, 0, old, { kind: BLOCK_KIND_GROUP, compressLevel: 5, codec: 'brotli' })]));
  assert.deepEqual(grouped.warnings, []);
  assert.deepEqual(grouped.items, plain.items);
  assert.ok(plain.items.length > 100);
});

test('the second layout codes SNAPSHOTs with own_ns and GC_STARTs by field and splits GC time and duration: the same parts back, in fewer bytes', () => {
  const parts = quietParts();
  roundTrip(parts, false);
  const g1 = groupPayload(parts, false, true, GROUP_COLUMNS_1)!;
  const g2 = groupPayload(parts, false, true, GROUP_COLUMNS_2)!;
  const count = (col: Uint8Array, t: number): number => col.filter((x) => x === t).length;
  // The first layout: 12-field SNAPSHOTs (type 7) and GC_STARTs (23) whole; the second: codings 6 and 7.
  const kinds = (g: Uint8Array): number[] => [7, 23, RESERVED_TAG | 6, RESERVED_TAG | 7, RESERVED_TAG].map((t) => count(typeColumn(g), t));
  assert.deepEqual(kinds(g1), [8, 20, 0, 0, 80]);
  assert.deepEqual(kinds(g2), [0, 0, 8, 20, 80]);
  const z1 = brotliCompressSync(g1).length;
  const z2 = brotliCompressSync(g2).length;
  assert.ok(z2 < z1, `${z2} bytes compressed in the second layout, ${z1} in the first`);
  // A group of the first layout holds no coding 6 or 7: a reader refuses one there.
  const bad = g1.slice();
  const types = typeColumn(bad);
  bad[types.byteOffset + types.indexOf(7)] = RESERVED_TAG | 6;
  const r = ungroup(bad, false, true);
  assert.ok(typeof r === 'string' && /unknown coding 6/.test(r), typeof r === 'string' ? r : 'read');
});

for (const native of [false, true]) {
  test(`a group gives back every part byte for byte: every record kind, and a realistic stream (native ${native})`, () => {
    const every = partsOf(writeInFileOrder(everyRecordItems(native), { ...TEST_HEADER, options: native ? OPTION_NATIVE : 0 }, { blockSize: 300 }));
    assert.ok(every.parts.length > 3);
    roundTrip(every.parts, native);
    const out: Uint8Array[] = [];
    writeRealistic({ events: 20000, threads: 4, native, blockSize: 4096, sink: (b) => out.push(b) });
    const real = partsOf(concat(out));
    roundTrip(real.parts, native);
  });
}

test('records a group cannot code by field go whole: a longer GC record, a varint that is not the shortest', () => {
  // Type 8 (GC) with eight fields (a newer writer's), then a GC whose seq is written in two bytes (0x81 0x00).
  const gc8 = Uint8Array.of(8, 8, 1, 2, 3, 4, 5, 6, 7, 8);
  const gcLong = Uint8Array.of(8, 8, 0x81, 0x00, 2, 3, 4, 5, 6, 1);
  const alloc = Uint8Array.of(0x81, 0x80 | 8, 0x80, 0x00, 16, 0); // an ALLOC whose address varint is long
  const parts = [{ stream: 1, baseSeq: 0, payload: concat([gc8, gcLong, alloc]) }];
  roundTrip(parts, false);
});

test('a payload that is not records is not grouped; a GC record with a value past 2^52 goes whole', () => {
  assert.equal(groupPayload([{ stream: 1, baseSeq: 0, payload: Uint8Array.of(0x40) }], false, true), undefined);
  assert.equal(groupPayload([{ stream: 1, baseSeq: 0, payload: Uint8Array.of(0x81, 0x08) }], false, true), undefined, 'an ALLOC cut short');
  const big = Uint8Array.of(8, 14, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 0, 0, 0, 0, 0);
  roundTrip([{ stream: 1, baseSeq: 2 ** 52, payload: concat([Uint8Array.of(0x81, 0x08, 16, 0), big]) }], false);
});

test('a damaged group payload is refused with a reason, never read as records', () => {
  const out: Uint8Array[] = [];
  writeRealistic({ events: 5000, threads: 2, blockSize: 4096, sink: (b) => out.push(b) });
  const { parts } = partsOf(concat(out));
  const g = groupPayload(parts, false, true)!;
  const cut = ungroup(g.subarray(0, g.length - 10), false, true);
  assert.ok(typeof cut === 'string');
  assert.match(cut, /past its end|ends early|do not parse/);
  const more = g.slice();
  // The column count (after the parts' headers) raised: a newer layout.
  let p = 0;
  const skip = (): void => {
    while (more[p]! >= 0x80) p++;
    p++;
  };
  skip();
  for (let k = 0; k < parts.length * 3; k++) skip();
  more[p] = more[p]! + 1;
  const newer = ungroup(more, false, true);
  assert.ok(typeof newer === 'string');
  assert.match(newer, /columns, not/);
});

test('recompression writes group blocks and format version 4; the records and their order are those of the original', () => {
  const out: Uint8Array[] = [];
  // A capture of version 3, what the agent wrote when groups came: its header is raised to 4.
  writeRealistic({ events: 40000, threads: 6, blockSize: 1500, version: 3, sink: (b) => out.push(b) });
  const input = concat(out);
  const grouped = recompressCapture(input);
  const plain = recompressCapture(input, { streamGroups: false });
  const a = decode(input);
  const b = decode(grouped);
  const c = decode(plain);
  assert.equal(b.header?.version, GROUP_FORMAT_VERSION);
  assert.equal(b.header?.minReaderVersion, GROUP_FORMAT_VERSION);
  assert.equal(c.header?.minReaderVersion, a.header?.minReaderVersion);
  assert.deepEqual(b.warnings, []);
  assert.deepEqual(b.items, c.items);
  assert.ok(b.blocks.some((x) => x.kind === BLOCK_KIND_GROUP));
  assert.ok(grouped.length < plain.length, `${grouped.length} grouped vs ${plain.length}`);
  // A capture of version 7 (the agent's now) gets groups of the second layout: its header asks for a reader of
  // version 8, which reads them (a reader of 7 would skip them with a warning). Version 3's above got the first.
  const v7: Uint8Array[] = [];
  writeRealistic({ events: 5000, threads: 3, blockSize: 1500, sink: (x) => v7.push(x) });
  const v7in = concat(v7);
  const e = decode(recompressCapture(v7in));
  assert.deepEqual([e.header?.version, e.header?.minReaderVersion], [GROUP_LAYOUT2_VERSION, GROUP_LAYOUT2_VERSION]);
  assert.ok(e.blocks.some((x) => x.kind === BLOCK_KIND_GROUP));
  assert.deepEqual(e.warnings, []);
  assert.deepEqual(byStreamOf(e.items), byStreamOf(decode(v7in).items));
  assert.deepEqual(groupColumns(recompressCapture(v7in)), [GROUP_COLUMNS_2]);
  assert.deepEqual(groupColumns(grouped), [GROUP_COLUMNS_1]);
  // A capture of version 1 (addresses as deltas) keeps its header and gets no groups: version 4 says slots.
  const v1: Uint8Array[] = [];
  writeRealistic({ events: 5000, threads: 3, blockSize: 1500, version: 1, sink: (x) => v1.push(x) });
  const d = decode(recompressCapture(concat(v1)));
  assert.equal(d.header?.minReaderVersion, 1);
  assert.ok(!d.blocks.some((x) => x.kind === BLOCK_KIND_GROUP));
});

test('a capture with groups asks for a reader of version 4; a group block in a version-3 capture is skipped as an unknown kind', () => {
  const out: Uint8Array[] = [];
  writeRealistic({ events: 3000, threads: 2, blockSize: 1500, version: 3, sink: (b) => out.push(b) });
  const grouped = recompressCapture(concat(out));
  // What a reader of version 3 checks (header.ts): min_reader_version above its own is refused, in one line.
  const header = decode(grouped).header!;
  assert.equal(header.minReaderVersion, 4);
  // A version-3 header followed by a group block: the block is of a kind this header does not allow.
  const v3 = encodeHeader({ ...TEST_HEADER, options: 0, version: 3 });
  const { parts } = partsOf(concat(out));
  const block = encodeBlock(0, 0, groupPayload(parts, false, true)!, { kind: BLOCK_KIND_GROUP, compressLevel: 5, codec: 'brotli' });
  assert.equal(block[4]! & BLOCK_FLAG_BROTLI, BLOCK_FLAG_BROTLI);
  const c = decode(concat([v3, block]));
  assert.deepEqual(
    c.warnings.map((w) => w.kind),
    ['unknown-block-kind'],
  );
  assert.equal(c.items.length, 0);
});

test('a group block cut short at the end of the file costs only itself', () => {
  const out: Uint8Array[] = [];
  writeRealistic({ events: 40000, threads: 3, blockSize: 1500, sink: (b) => out.push(b) });
  // Merged blocks of up to 64 KiB (not 1 MiB): several groups.
  const grouped = recompressCapture(concat(out), { group: false });
  const whole = decode(grouped);
  const groups = whole.blocks.filter((x) => x.kind === BLOCK_KIND_GROUP);
  assert.ok(groups.length >= 2, `${groups.length} group blocks`);
  const last = groups.at(-1)!;
  const cut = decode(grouped.subarray(0, last.offset + 40));
  assert.deepEqual(
    cut.warnings.map((w) => w.kind),
    ['truncated'],
  );
  const before = whole.blockOf.findIndex((k) => whole.blocks[k]!.offset >= last.offset);
  assert.deepEqual(cut.items, whole.items.slice(0, before));
});

test('CHECKPOINTs of a quiet program come back exactly, and their figures are coded against the same location', () => {
  const items: Item[] = [];
  const entry = (stack: number, k: number): CheckpointEntry => ({
    stream: 1,
    stack,
    nativeStack: 0,
    allocator: 0,
    totalCount: 100 + k,
    totalBytes: 300_000 + k * 3000,
    liveCount: 10 + (k % 7),
    liveBytes: 40_000 + (k % 7) * 3000,
    savedPeakCount: 17,
    savedPeakBytes: 61_000,
    updatedSeq: 1000 + 20 * k - 1,
  });
  for (let k = 0; k < 200; k++) {
    items.push({ type: 'barrier', stream: 0, seq: 1000 + 20 * k - 3 });
    // One or two locations changed: the entries' positions differ from one checkpoint to the next.
    const entries = k % 3 === 0 ? [entry(2, k), entry(1, k)] : [entry(1, k)];
    items.push({ type: 'checkpoint', stream: 0, seq: 1000 + 20 * k, timeNs: 50_000_000 * k + ((k * 7919) % 100_000), heap: 40_000 + (k % 7) * 3000, peakHeap: 61_000, peakSeq: 900, entries });
  }
  const capture = writeInFileOrder(items, { ...TEST_HEADER, options: 0 }, { blockSize: 1 << 20 });
  const { parts } = partsOf(capture);
  roundTrip(parts, false);
  const g = groupPayload(parts, false, true)!;
  const raw = parts.reduce((n, p) => n + p.payload.length, 0);
  assert.ok(g.length < raw * 0.8, `${g.length} coded vs ${raw} raw`);
});

test('a pack (a group of 0 columns, format version 5) gives back its parts as they are; one whose parts do not fill it is refused', () => {
  const out: Uint8Array[] = [];
  writeRealistic({ events: 20000, threads: 3, native: true, blockSize: 4096, sink: (b) => out.push(b) });
  const { parts } = partsOf(concat(out));
  assert.ok(parts.length > 3);
  const p = packPayload(parts);
  const back = ungroup(p, true, true);
  assert.ok(typeof back !== 'string', typeof back === 'string' ? back : '');
  assert.deepEqual(
    back.map((x) => [x.stream, x.baseSeq, Buffer.from(x.payload).toString('hex')]),
    parts.map((x) => [x.stream, x.baseSeq, Buffer.from(x.payload).toString('hex')]),
  );
  // A byte short, or one too many: the parts' lengths must add up to what follows their heads.
  for (const bad of [p.subarray(0, p.length - 1), concat([p, Uint8Array.of(7)])]) {
    const r = ungroup(bad, true, true);
    assert.ok(typeof r === 'string' && /its parts take/.test(r), typeof r === 'string' ? r : `${r.length} parts`);
  }
});

test("a SNAPSHOT with memlens's own time (flag 8, a twelfth field) reads back with it, and goes whole through a group", () => {
  const base = { type: 'snapshot', stream: 0, rssAnon: 1, rssFile: 2, rssShmem: 3, swap: 4, heap: undefined, cgroupUsage: undefined, cgroupLimit: undefined } as const;
  const items: Item[] = [
    { ...base, seq: 1, timeNs: 10, rss: 10 },
    { ...base, seq: 5, timeNs: 20, rss: 12, ownNs: 123_456_789 },
    { ...base, seq: 9, timeNs: 30, rss: 14, ownNs: 0 },
  ];
  const bytes = writeInFileOrder(items, { ...TEST_HEADER, options: 0 }, { blockSize: 300 });
  assert.deepEqual(
    decode(bytes).items.map((i) => (i.type === 'snapshot' ? i.ownNs : 'other')),
    [undefined, 123_456_789, 0],
  );
  roundTrip(partsOf(bytes).parts, false);
});
