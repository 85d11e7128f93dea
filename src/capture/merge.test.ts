import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Collector, type Collected, type Item } from '../../test/support/collect.js';
import { everyRecordItems, TEST_HEADER, writeInFileOrder, writeRealistic } from '../../test/support/synthetic.js';
import { recompressCapture } from './compress.js';
import { decodeCapture } from './decoder.js';
import { CaptureWriter, concat, encodeBlock } from './encoder.js';
import { BLOCK_KIND_GROUP, OPTION_NATIVE, STREAM_SERVICE } from './format.js';
import { SMALL_BLOCK } from './merge.js';
import { SeqOrderer } from './order.js';

function decode(bytes: Uint8Array): Collected {
  const c = new Collector();
  decodeCapture(bytes, c);
  return c.c;
}

function ordered(bytes: Uint8Array): Item[] {
  const c = new Collector();
  const o = new SeqOrderer(c);
  decodeCapture(bytes, o);
  return c.c.items;
}

/** Each stream's records, in their order. */
function byStream(items: readonly Item[]): Map<number, Item[]> {
  const m = new Map<number, Item[]>();
  for (const it of items) {
    const a = m.get(it.stream) ?? [];
    a.push(it);
    m.set(it.stream, a);
  }
  return m;
}

const events = (items: readonly Item[]): Item[] => items.filter((it) => it.type === 'alloc' || it.type === 'free');

/** In file order, every event whose seq is below a BARRIER's comes before that BARRIER. */
function barriersHold(items: readonly Item[]): void {
  let maxSeqAfter = -1;
  // Walk backwards: the lowest event seq seen after each barrier must be at least the barrier's seq.
  let minAfter = Infinity;
  for (let i = items.length - 1; i >= 0; i--) {
    const it = items[i]!;
    if (it.type === 'alloc' || it.type === 'free') minAfter = Math.min(minAfter, it.seq);
    else if (it.type === 'barrier') {
      assert.ok(minAfter >= it.seq, `an event of seq ${minAfter} comes after the BARRIER of seq ${it.seq}`);
      maxSeqAfter = Math.max(maxSeqAfter, it.seq);
    }
  }
  assert.ok(maxSeqAfter > 0, 'the capture has barriers');
}

function smallBlocks(native: boolean, threads = 4, version?: number): Uint8Array {
  const parts: Uint8Array[] = [];
  writeRealistic({ events: 40000, threads, native, blockSize: 1500, sink: (b) => parts.push(b), ...(version !== undefined ? { version } : {}) });
  return concat(parts);
}

// Version 1 codes addresses as deltas, version 3 against slots (docs/capture-format.md "Addresses").
for (const [native, version] of [
  [false, 3],
  [true, 3],
  [false, 1],
  [true, 1],
] as const) {
  test(`small blocks are merged: every stream's records, the events in seq order and the barriers hold (native ${native}, version ${version})`, () => {
    const input = smallBlocks(native, 4, version);
    const out = recompressCapture(input);
    const a = decode(input);
    const b = decode(out);
    assert.deepEqual(b.warnings, []);
    assert.deepEqual(byStream(b.items), byStream(a.items));
    assert.deepEqual(events(ordered(out)), events(ordered(input)));
    barriersHold(b.items);
    assert.ok(b.blocks.length * 10 < a.blocks.length, `${b.blocks.length} blocks from ${a.blocks.length}`);
    const unmerged = recompressCapture(input, { merge: false });
    assert.ok(out.length < unmerged.length * 0.9, `${out.length} merged vs ${unmerged.length} block by block`);
  });
}

test('every record kind survives merging, and memlens stream stays at the end', () => {
  const input = writeInFileOrder(everyRecordItems(), TEST_HEADER, { blockSize: 300 });
  const out = recompressCapture(input);
  const a = decode(input);
  const b = decode(out);
  assert.deepEqual(b.warnings, []);
  assert.deepEqual(byStream(b.items), byStream(a.items));
  const last = b.items.slice(-2);
  assert.deepEqual(
    last,
    a.items.filter((it) => it.stream === 0xffffffff),
  );
});

test('a stream whose seq goes back between blocks gets a new merged block', () => {
  const w = new CaptureWriter({ header: { ...TEST_HEADER, unknownFields: [], options: OPTION_NATIVE } });
  w.alloc(1, 10, 0x1000, 16, 0, 1, 2);
  w.flush(1);
  w.alloc(1, 11, 0x1008, 16, 0, 1, 2);
  w.flush(1);
  w.alloc(1, 5, 0x2000, 32, 1, 0, 0); // a writer may go back across blocks
  w.free(1, 6, 0x1000, 0, 0);
  w.flush(1);
  w.meta({ type: 'barrier', stream: STREAM_SERVICE, seq: 12 });
  const input = w.finish();
  const out = recompressCapture(input);
  const a = decode(input);
  const b = decode(out);
  assert.deepEqual(b.items, a.items);
  assert.equal(b.blocks.filter((x) => x.stream === 1).length, 2);
});

test('a block that does not parse is passed on as it is, after what was pending', () => {
  const w = new CaptureWriter({ header: { ...TEST_HEADER, unknownFields: [], options: 0 } });
  w.alloc(1, 1, 0x1000, 16, 0, 0, 0);
  w.flush(1);
  w.alloc(1, 2, 0x1010, 16, 0, 0, 0);
  w.flush(1);
  const good = w.finish();
  // A third block of stream 1 whose payload is a reserved type byte (0x40), with a good CRC.
  const bad = new CaptureWriter({ nativeStacks: false });
  bad.meta({ type: 'unknown', stream: 1, recordType: 63, payload: Uint8Array.of(1) });
  const extra = bad.finish();
  // Turn the record's type byte (63) into a reserved one and fix the CRC by encoding the block again.
  const payload = extra.slice(32);
  payload[0] = 0x40;
  const input = concat([good, encodeBlock(1, 2, payload)]);
  const a = decode(input);
  const b = decode(recompressCapture(input));
  assert.deepEqual(b.items, a.items);
  assert.deepEqual(
    b.warnings.map((x) => x.kind),
    a.warnings.map((x) => x.kind),
  );
  assert.ok(a.warnings.length >= 1);
});

for (const native of [false, true]) {
  test(`full blocks are grouped into blocks of up to 1 MiB, every record unchanged (native ${native})`, () => {
    const parts: Uint8Array[] = [];
    writeRealistic({ events: 400000, threads: 3, native, blockSize: 32 * 1024, sink: (b) => parts.push(b) });
    const input = concat(parts);
    const grouped = recompressCapture(input);
    const a = decode(input);
    const b = decode(grouped);
    assert.deepEqual(b.warnings, []);
    assert.deepEqual(byStream(b.items), byStream(a.items));
    assert.deepEqual(events(ordered(grouped)), events(ordered(input)));
    barriersHold(b.items);
    // A merged block holds up to 1 MiB; a group block, every stream's pending ones (1 MiB in all) and the
    // block that took them past it.
    assert.ok(b.blocks.every((x) => (x.kind === BLOCK_KIND_GROUP ? x.rawLen <= 2 << 20 : x.rawLen <= 1 << 20)));
    const full = a.blocks.filter((x) => x.rawLen >= SMALL_BLOCK).length;
    assert.ok(full >= 20, `${full} full blocks`);
    assert.ok(b.blocks.length * 4 < a.blocks.length, `${b.blocks.length} blocks from ${a.blocks.length}`);
    // Without grouping, or at the follower's fast level, full blocks are compressed one by one.
    for (const options of [{ group: false }, { level: 1 }]) {
      const alone = decode(recompressCapture(input, options));
      assert.deepEqual(byStream(alone.items), byStream(a.items));
      // (Blocks of records as they are in the file: merged small blocks go in group blocks.)
      assert.equal(alone.blocks.filter((x) => x.rawLen >= SMALL_BLOCK && x.kind === 1 && x.headerLen > 0).length, full, JSON.stringify(options));
    }
  });
}

test('a block whose records stop parsing after its first ALLOC is passed on as it is', () => {
  const w = new CaptureWriter({ header: { ...TEST_HEADER, unknownFields: [], options: 0 } });
  w.free(1, 1, 0x3000, 0, 0);
  w.alloc(1, 2, 0x1000, 16, 0, 4, 0);
  w.flush(1);
  const good = w.finish();
  // A second block of stream 1: a FREE, an ALLOC with the same stack (0 in its own coding, 4 in the merged
  // block's), then a reserved type byte, with a good CRC.
  const w2 = new CaptureWriter({ nativeStacks: false });
  w2.free(1, 3, 0x1000, 0, 0);
  w2.alloc(1, 4, 0x2000, 32, 0, 0, 0);
  w2.alloc(1, 5, 0x2020, 32, 0, 0, 0);
  w2.flush(1);
  const second = w2.finish();
  const payload = concat([second.slice(32), Uint8Array.of(0x40)]);
  const base = decode(concat([good, second])).blocks.at(-1)!.baseSeq;
  const input = concat([good, encodeBlock(1, base, second.slice(32)), encodeBlock(1, base, payload)]);
  const a = decode(input);
  const b = decode(recompressCapture(input));
  assert.deepEqual(b.items, a.items);
  assert.deepEqual(
    b.warnings.map((x) => x.kind),
    a.warnings.map((x) => x.kind),
  );
  assert.ok(a.warnings.length >= 1);
});
