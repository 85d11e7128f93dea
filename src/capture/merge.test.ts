import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Collector, type Collected, type Item } from '../../test/support/collect.js';
import { everyRecordItems, TEST_HEADER, writeInFileOrder, writeRealistic } from '../../test/support/synthetic.js';
import { recompressCapture } from './compress.js';
import { decodeCapture } from './decoder.js';
import { CaptureWriter, concat, encodeBlock } from './encoder.js';
import { OPTION_NATIVE, STREAM_SERVICE } from './format.js';
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
