import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Collector, type Collected, type Item } from '../../test/support/collect.js';
import { everyRecordItems, TEST_HEADER, writeInFileOrder, writeRealistic } from '../../test/support/synthetic.js';
import { recompressCapture } from './compress.js';
import { decodeCapture } from './decoder.js';
import { concat, encodeBlock } from './encoder.js';
import { BLOCK_FLAG_BROTLI, BLOCK_KIND_GROUP, FORMAT_VERSION, GROUP_FORMAT_VERSION, MIN_READER_VERSION, OPTION_NATIVE } from './format.js';
import { BlockFramer } from './framing.js';
import { groupPayload, packPayload, ungroup, type GroupPart } from './group.js';
import { encodeHeader } from './header.js';
import type { CheckpointEntry } from './records.js';

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

function roundTrip(parts: readonly GroupPart[], native: boolean): void {
  const g = groupPayload(parts, native, true);
  assert.ok(g !== undefined, 'the parts can be grouped');
  const back = ungroup(g, native, true);
  assert.ok(typeof back !== 'string', typeof back === 'string' ? back : '');
  assert.deepEqual(
    back.map((p) => [p.stream, p.baseSeq, Buffer.from(p.payload).toString('hex')]),
    parts.map((p) => [p.stream, p.baseSeq, Buffer.from(p.payload).toString('hex')]),
  );
}

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
  // A capture of a later version (the agent's now) keeps its own: lowering it would misread its records.
  const v6: Uint8Array[] = [];
  writeRealistic({ events: 5000, threads: 3, blockSize: 1500, sink: (x) => v6.push(x) });
  const e = decode(recompressCapture(concat(v6)));
  assert.deepEqual([e.header?.version, e.header?.minReaderVersion], [FORMAT_VERSION, MIN_READER_VERSION]);
  assert.ok(e.blocks.some((x) => x.kind === BLOCK_KIND_GROUP));
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
