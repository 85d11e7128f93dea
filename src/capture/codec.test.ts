import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Collector, reencode, type Item } from '../../test/support/collect.js';
import { everyRecordItems, MAX, TEST_HEADER, writeInFileOrder, writeRealistic } from '../../test/support/synthetic.js';
import { CaptureDecoder, decodeCapture } from './decoder.js';
import { CaptureWriter, concat } from './encoder.js';
import { makeHeader } from './header.js';

function decode(bytes: Uint8Array): Collector {
  const c = new Collector();
  decodeCapture(bytes, c);
  return c;
}

for (const native of [true, false]) {
  for (const level of [undefined, 1, 6]) {
    test(`every record type round-trips (native ${native}, deflate ${level ?? 'off'})`, () => {
      const items = everyRecordItems(native);
      const header = { ...TEST_HEADER, options: native ? 1 : 0 };
      const bytes = writeInFileOrder(items, header, level !== undefined ? { compressLevel: level } : {});
      const c = decode(bytes);
      assert.deepEqual(c.c.warnings, []);
      assert.deepEqual(c.c.header, makeHeader(header));
      assert.deepEqual(c.c.items, items);
      assert.deepEqual(reencode(c.c, level), bytes);
    });
  }
}

test('small blocks: records spread over many blocks keep their delta state per block', () => {
  const items = everyRecordItems(true);
  const bytes = writeInFileOrder(items, TEST_HEADER, { blockSize: 64 });
  const c = decode(bytes);
  assert.deepEqual(c.c.warnings, []);
  assert.deepEqual(c.c.items, items);
  assert.ok(c.c.blocks.length > 20);
  assert.deepEqual(reencode(c.c), bytes);
});

test('encoder output is deterministic', () => {
  const a = writeInFileOrder(everyRecordItems(), TEST_HEADER, { compressLevel: 6 });
  const b = writeInFileOrder(everyRecordItems(), TEST_HEADER, { compressLevel: 6 });
  assert.deepEqual(a, b);
});

test('a realistic stream round-trips and re-encodes to the same bytes', () => {
  for (const native of [false, true]) {
    const parts: Uint8Array[] = [];
    const r = writeRealistic({ events: 30000, threads: 3, native, sink: (b) => parts.push(b) });
    const bytes = concat(parts);
    const c = decode(bytes);
    assert.deepEqual(c.c.warnings, []);
    const hot = c.c.items.filter((i: Item) => i.type === 'alloc' || i.type === 'free').length;
    assert.equal(hot, r.allocs + r.frees);
    assert.equal(c.c.items.length, r.records);
    assert.deepEqual(reencode(c.c), bytes);
  }
});

test('seq going backwards within a stream starts a new block', () => {
  const w = new CaptureWriter({ header: {} });
  w.alloc(1, 10, 0x1000, 8, 0, 0, 0);
  w.alloc(1, 5, 0x1008, 8, 0, 0, 0);
  const c = decode(w.finish());
  assert.deepEqual(
    c.c.items.map((i) => (i.type === 'alloc' ? i.seq : -1)),
    [10, 5],
  );
  assert.equal(c.c.blocks.length, 2);
});

test('writer refuses what the format cannot say', () => {
  const w = new CaptureWriter({ header: {} });
  assert.throws(() => w.alloc(1, 1, 0, 1, 0, 0, 5), RangeError);
  assert.throws(() => w.meta({ type: 'frame', stream: 1, id: 2, parent: 0, codeId: 1, instr: 0 }), RangeError);
  assert.throws(() => w.alloc(1, MAX + 2, 0, 1, 0, 0, 0), RangeError);
  assert.equal(w.frame(1, 0, 1, 0), 1);
  assert.equal(w.frame(1, 1, 1, 0), 2);
});

test('chunks cut at every position and byte by byte decode the same', () => {
  const bytes = writeInFileOrder(everyRecordItems(), TEST_HEADER, { blockSize: 200 });
  const whole = decode(bytes).c;
  for (let cut = 0; cut <= bytes.length; cut++) {
    const c = new Collector();
    const d = new CaptureDecoder(c);
    d.feed(bytes.subarray(0, cut));
    d.feed(bytes.subarray(cut));
    d.end();
    assert.deepEqual(c.c, whole, `cut at ${cut}`);
  }
  const c = new Collector();
  const d = new CaptureDecoder(c);
  for (let i = 0; i < bytes.length; i++) d.feed(bytes.subarray(i, i + 1));
  d.end();
  assert.deepEqual(c.c, whole);
});
