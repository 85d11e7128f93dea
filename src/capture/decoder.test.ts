import assert from 'node:assert/strict';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { test } from 'node:test';
import type * as Zlib from 'node:zlib';
import { Collector, FrameCollector, type Collected } from '../../test/support/collect.js';
import { prng as rng } from '../../test/support/prng.js';
import { everyRecordItems, TEST_HEADER, writeInFileOrder, writeRealistic } from '../../test/support/synthetic.js';
import { FOLLOW_FAST_LEVEL, recompressCapture } from './compress.js';
import { CaptureFormatError, UnsupportedVersionError } from '../errors.js';
import { CaptureDecoder, decodeCapture } from './decoder.js';
import { CaptureWriter, concat, encodeAppendix, encodeBlock } from './encoder.js';
import { BLOCK_KIND_GROUP, FILE_HEADER_FIXED_LEN, MAX_STRING_LEN, RecordType, STREAM_MEMLENS } from './format.js';
import { encodeHeader } from './header.js';
import { SeqOrderer } from './order.js';
import { BlockPool } from './block-pool.js';
import { type CaptureVisitor, type DeferredBlock, eventAddress } from './records.js';
import { Allocator } from './format.js';
import type { Item } from '../../test/support/collect.js';
import { setImmediate as tick } from 'node:timers/promises';
import { collectNow } from '../util/outgrown.js';
import { ByteWriter } from './varint.js';
import { setFlagsFromString } from 'node:v8';
import { restoreReportFlags, useReportFlags } from '../util/report-flags.js';

function decode(bytes: Uint8Array): Collected {
  const c = new Collector();
  decodeCapture(bytes, c);
  return c.c;
}

const small = writeInFileOrder(everyRecordItems(), TEST_HEADER, { blockSize: 200 });
const smallZ = writeInFileOrder(everyRecordItems(), TEST_HEADER, { blockSize: 200, compressLevel: 6 });
const headerLen = encodeHeader(TEST_HEADER).length;

for (const [name, bytes] of [
  ['uncompressed', small],
  ['compressed', smallZ],
] as const) {
  test(`truncation at every byte offset yields a prefix of the records (${name})`, () => {
    const whole = decode(bytes);
    for (let cut = 0; cut < bytes.length; cut++) {
      const part = bytes.subarray(0, cut);
      if (cut < headerLen) {
        assert.throws(
          () => decode(part),
          (e: unknown) => e instanceof CaptureFormatError && !(e instanceof UnsupportedVersionError),
          `cut ${cut}`,
        );
        continue;
      }
      const c = decode(part);
      assert.deepEqual(c.items, whole.items.slice(0, c.items.length), `cut ${cut}`);
      const atBoundary = whole.blocks.some((b) => b.offset === cut);
      assert.equal(c.warnings.length, atBoundary || cut === headerLen ? 0 : 1, `cut ${cut}: ${JSON.stringify(c.warnings)}`);
      for (const w of c.warnings) {
        assert.equal(w.kind, 'truncated');
        assert.ok(w.offset >= headerLen && w.offset <= cut, `cut ${cut}: warning offset ${w.offset}`);
        assert.equal(w.offset + w.skippedBytes, cut);
      }
    }
  });
}

test('a truncated uncompressed block yields its whole records', () => {
  const w = new CaptureWriter({ header: {} });
  for (let i = 1; i <= 100; i++) w.alloc(1, i, 0x1000 + 16 * i, i, 0, 0, 0);
  const bytes = w.finish();
  const c = decode(bytes.subarray(0, bytes.length - 1));
  assert.equal(c.items.length, 99);
  assert.equal(c.warnings.length, 1);
  assert.match(c.warnings[0]?.message ?? '', /ends at offset \d+, inside a block that starts at offset \d+ .*read up to offset \d+/);
});

test('a damaged block is skipped with one warning at its offset; the blocks around it survive', () => {
  const whole = decode(small);
  const victim = whole.blocks[3];
  assert.ok(victim !== undefined);
  for (const at of [0, 5, 9, 17, 25, victim.headerLen + 2]) {
    const bytes = small.slice();
    bytes[victim.offset + at] = bytes[victim.offset + at]! ^ 0x5a;
    const c = decode(bytes);
    assert.deepEqual(
      c.warnings.map((w) => [w.kind, w.offset, w.skippedBytes]),
      [['damaged-block', victim.offset, victim.headerLen + victim.storedLen]],
      `byte ${at}`,
    );
    const lost = whole.items.filter((_, i) => whole.blockOf[i] === 3);
    assert.equal(c.items.length, whole.items.length - lost.length);
  }
});

test('garbage between blocks and a zero-filled tail cost only themselves', () => {
  const whole = decode(small);
  const b = whole.blocks[2];
  assert.ok(b !== undefined);
  const junk = Uint8Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff);
  junk.set([0xeb, 0x4d, 0x4c, 0x42], 100); // a sync mark that does not start a good block
  const bytes = new Uint8Array([...small.subarray(0, b.offset), ...junk, ...small.subarray(b.offset), ...new Uint8Array(4096)]);
  const c = decode(bytes);
  assert.deepEqual(c.items, whole.items);
  assert.deepEqual(
    c.warnings.map((w) => [w.kind, w.offset, w.skippedBytes]),
    [
      ['damaged-block', b.offset, 300],
      ['damaged-block', small.length + 300, 4096],
    ],
  );
});

test('bad records end their block with a warning; the next block is read', () => {
  // Version 1's address coding: the payloads below are written by hand (address-slots.test.ts has version 3's).
  const w = new CaptureWriter({ header: { version: 1 } });
  w.alloc(1, 1, 0x1000, 8, 0, 0, 0);
  w.flush(1);
  const bad = [
    Uint8Array.of(0x40), // reserved
    Uint8Array.of(0x00), // invalid
    Uint8Array.of(RecordType.Note, 0xff, 0xff, 0xff, 0xff, 0x7f), // length far past the end
    Uint8Array.of(0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), // varint too long
    Uint8Array.of(0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0), // seq delta above 2^53
    Uint8Array.of(0x83, 0x10, 0x08, 0x01), // an ALLOC whose stack delta leads below node 0
    Uint8Array.of(0x62, 0x05), // a FREE whose address delta leads below 0
  ];
  for (const payload of bad) w.raw(encodeBlock(1, 0, new Uint8Array([0x62, 0x02, ...payload, 0x62, 0x02])));
  w.alloc(1, 9, 0x2000, 8, 0, 0, 0);
  const c = decode(w.finish());
  assert.deepEqual(
    c.items.map((i) => i.type),
    ['alloc', 'free', 'free', 'free', 'free', 'free', 'free', 'free', 'alloc'],
  );
  assert.deepEqual(
    c.warnings.map((x) => x.kind),
    ['bad-record', 'bad-record', 'bad-record', 'bad-record', 'bad-record', 'bad-record', 'bad-record'],
  );
  assert.match(c.warnings[5]!.message, /ALLOC record whose address, stack node or seq is out of range/);
  assert.match(c.warnings[6]!.message, /FREE record whose address or seq is out of range/);
});

test('malformed length-prefixed records are skipped alone; hostile counts allocate nothing', () => {
  const rec = (t: number, payload: number[] | Uint8Array): number[] => [t, ...varint(payload.length), ...payload];
  const varint = (n: number): number[] => {
    const w = new ByteWriter();
    w.varint(n);
    return [...w.bytes()];
  };
  const hugeString = [...varint(1), ...varint(MAX_STRING_LEN + 1)];
  const payload = new Uint8Array([
    ...rec(RecordType.Note, hugeString), // string above the limit
    ...rec(RecordType.Image, [1, 2, 0, 0, ...varint(2 ** 40)]), // 2^40 segments
    ...rec(RecordType.Checkpoint, [1, 1, 1, 1, 1, ...varint(2 ** 50)]),
    ...rec(RecordType.Frame, [0, 1]), // a field missing
    ...rec(RecordType.Frame, [2, 1, 2, 99, 98]), // parent 0 (id 2 minus 2, version 6); trailing bytes: a newer writer's extra fields
    ...rec(RecordType.Barrier, [5]),
  ]);
  const bytes = new Uint8Array([...encodeHeader({}), ...encodeBlock(0, 0, payload)]);
  const c = decode(bytes);
  assert.deepEqual(
    c.warnings.map((w) => w.kind),
    ['bad-record', 'bad-record', 'bad-record', 'bad-record'],
  );
  // The malformed FRAME still took id 1: the writer defined a node.
  assert.deepEqual(c.items, [
    { type: 'frame', stream: 0, id: 2, parent: 0, codeId: 1, instr: 2 },
    { type: 'barrier', stream: 0, seq: 5 },
  ]);
});

test('unknown block kinds and flags are skipped with one warning each; longer block headers are read', () => {
  const w = new CaptureWriter({ header: { version: 1 } });
  w.raw(encodeBlock(1, 0, Uint8Array.of(1, 2, 3), { kind: 9 }));
  w.raw(encodeBlock(1, 0, Uint8Array.of(1, 2, 3), { kind: 9 }));
  const flagged = encodeBlock(1, 0, Uint8Array.of(0x62, 2));
  flagged[4] = 0x80;
  w.raw(encodeBlock(1, 0, Uint8Array.of(0x62, 2), { extraHeader: Uint8Array.of(7, 7, 7, 7) }));
  const bytes = w.finish();
  // Fix the CRC of the flagged block by re-framing it with the flag inside the CRC'd header bytes.
  const c = decode(new Uint8Array([...bytes, ...refixCrc(flagged)]));
  assert.deepEqual(c.items, [{ type: 'free', stream: 1, seq: 1, address: 8, size: 0, deallocator: 0 }]);
  assert.deepEqual(
    c.warnings.map((x) => [x.kind, x.message.slice(0, 30)]),
    [
      ['unknown-block-kind', 'block of unknown kind 9 at off'],
      ['unknown-block-kind', 'block of unknown flags 0x80 at'],
    ],
  );
});

import { crc32 } from 'node:zlib';
function refixCrc(block: Uint8Array): Uint8Array {
  const b = block.slice();
  const hl = b[5]!;
  let crc = crc32(b.subarray(4, 16));
  crc = crc32(b.subarray(20, hl), crc);
  crc = crc32(b.subarray(hl), crc);
  new DataView(b.buffer).setUint32(16, crc, true);
  return b;
}

test('header errors: not a capture, newer version, bad CRC, cut short, empty', () => {
  const h = encodeHeader(TEST_HEADER);
  assert.throws(() => decode(new TextEncoder().encode('hello world, this is not a capture file')), /is not a memlens capture: it starts with 68 65 6c 6c/);
  const newer = h.slice();
  new DataView(newer.buffer).setUint16(8, 10, true);
  new DataView(newer.buffer).setUint16(10, 9, true);
  assert.throws(
    () => decode(newer),
    (e: unknown) => e instanceof UnsupportedVersionError && /version 10.*version 9 or later.*reads version 8/.test(e.message) && /upgrade memlens/.test(e.hint ?? '') && !e.message.includes('\n'),
  );
  const readable = h.slice();
  new DataView(readable.buffer).setUint16(8, 9, true); // version 9, min reader 8: readable
  new DataView(readable.buffer).setUint16(10, 8, true);
  assert.equal(decode(readable).header?.version, 9);
  const v1 = h.slice();
  new DataView(v1.buffer).setUint16(8, 1, true); // version 1 (min reader 1): still read
  new DataView(v1.buffer).setUint16(10, 1, true);
  assert.equal(decode(v1).header?.minReaderVersion, 1);
  const sampled = h.slice();
  new DataView(sampled.buffer).setUint16(8, 2, true); // a sampled capture: version 2, min reader 2
  new DataView(sampled.buffer).setUint16(10, 2, true);
  assert.equal(decode(sampled).header?.minReaderVersion, 2);
  const crc = h.slice();
  crc[FILE_HEADER_FIXED_LEN + 3] = crc[FILE_HEADER_FIXED_LEN + 3]! ^ 1;
  assert.throws(() => decode(crc), /damaged header: its CRC-32/);
  assert.throws(() => decode(h.subarray(0, 10)), /cut short: it ends at byte 10, inside the 20-byte file header/);
  assert.throws(() => decode(h.subarray(0, 30)), new RegExp(`cut short: it ends at byte 30, inside the ${h.length}-byte file header`));
  assert.throws(() => decode(new Uint8Array(0)), /is empty/);
  const long = h.slice();
  new DataView(long.buffer).setUint32(12, 2 << 20, true);
  assert.throws(() => decode(long), /body length 2097152 is above the limit/);
});

/** Mutations of a valid capture: flips, insertions, deletions, duplicated ranges. */
function mutate(bytes: Uint8Array, rand: () => number): Uint8Array {
  let b = Array.from(bytes);
  const n = 1 + Math.floor(rand() * 6);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(rand() * b.length);
    const r = rand();
    if (r < 0.4) b[at] = Math.floor(rand() * 256);
    else if (r < 0.6) b.splice(at, 0, ...Array.from({ length: 1 + Math.floor(rand() * 40) }, () => Math.floor(rand() * 256)));
    else if (r < 0.8) b.splice(at, 1 + Math.floor(rand() * 60));
    else {
      const len = Math.floor(rand() * 200);
      const from = Math.floor(rand() * b.length);
      b.splice(at, 0, ...b.slice(from, from + len));
    }
  }
  if (rand() < 0.1) b = b.slice(0, Math.floor(rand() * b.length));
  return Uint8Array.from(b);
}

test('fuzz: mutated captures never throw anything but a header CaptureFormatError, and chunking does not matter', () => {
  // A fixed number of seeded runs (work, not wall time, bounds a test); FUZZ_SEED and FUZZ_RUNS for more.
  const seed = Number(process.env['FUZZ_SEED'] ?? 1);
  const rand = rng(seed);
  const inputs = [small, smallZ, writeInFileOrder(everyRecordItems(false), { ...TEST_HEADER, options: 0 }, { blockSize: 100 })];
  const total = Number(process.env['FUZZ_RUNS'] ?? 2000);
  let runs = 0;
  while (runs < total) {
    const input = inputs[runs % inputs.length]!;
    const bytes = mutate(input, rand);
    let whole: Collected | undefined;
    let error: unknown;
    try {
      const c = new Collector();
      const o = new SeqOrderer(c);
      decodeCapture(bytes, o);
      o.end();
      whole = c.c;
    } catch (e) {
      error = e;
    }
    if (error !== undefined) {
      assert.ok(error instanceof CaptureFormatError, `seed ${seed}, run ${runs}: ${error instanceof Error ? (error.stack ?? error.message) : JSON.stringify(error)}`);
    } else if (runs % 4 === 0 && whole !== undefined) {
      // Same result when fed in random chunks.
      const c = new Collector();
      const o = new SeqOrderer(c);
      const d = new CaptureDecoder(o);
      for (let at = 0; at < bytes.length;) {
        const n = 1 + Math.floor(rand() * 300);
        d.feed(bytes.subarray(at, at + n));
        at += n;
      }
      d.end();
      o.end();
      assert.deepEqual(c.c, whole, `seed ${seed}, run ${runs}: chunked decoding differs`);
    }
    runs++;
  }
});

test('NATIVE_FRAME parents: version 6 codes them against the node id, version 3 whole; a delta of 0 or past the id is a malformed record that still takes its id', () => {
  // Stream 1: nodes 1 (root), 2 (child of 1), 3 (root again), 4 (child of 2), then a delta of 0 and one past
  // its id (nodes 5 and 6, skipped), then node 7, a child of 6: the skipped nodes kept their ids.
  const ip = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70];
  const deltas = [1, 1, 3, 2, 0, 9, 1];
  const payload = deltas.flatMap((d, i) => [RecordType.NativeFrame, 2, d, ip[i]!]);
  const items = (version: number): Collected => decode(new Uint8Array([...encodeHeader({ ...TEST_HEADER, options: 1, version }), ...encodeBlock(1, 0, Uint8Array.from(payload))]));
  const v6 = items(6);
  assert.deepEqual(
    v6.warnings.map((w) => [w.kind, /parent delta (0|9) of node (5|6) is not in \[1, (5|6)\]/.test(w.message)]),
    [
      ['bad-record', true],
      ['bad-record', true],
    ],
  );
  const parents = (c: Collected): [number, number, number][] => c.items.flatMap((i) => (i.type === 'native-frame' ? [[i.id, i.parent, i.ip] as [number, number, number]] : []));
  assert.deepEqual(parents(v6), [
    [1, 0, 0x10],
    [2, 1, 0x20],
    [3, 0, 0x30],
    [4, 2, 0x40],
    [7, 6, 0x70],
  ]);
  // Version 3 (and 5: packs and groups say nothing about parents) reads the same bytes as whole parents.
  for (const version of [3, 5]) {
    const old = items(version);
    assert.deepEqual(old.warnings, []);
    assert.deepEqual(
      parents(old).map(([id, parent]) => [id, parent]),
      deltas.map((d, i) => [i + 1, d]),
    );
  }
  // The encoder writes the same bytes for version 6, and refuses a parent that is not below its node there.
  const w = new CaptureWriter({ header: { ...TEST_HEADER, options: 1, version: 6 } });
  for (const [id, parent, at] of parents(v6).slice(0, 4)) assert.equal(w.nativeFrame(1, parent, at), id);
  w.flush(1);
  const bytes = w.finish();
  const block = encodeBlock(1, 0, Uint8Array.from(payload.slice(0, 16)));
  assert.deepEqual(bytes.subarray(bytes.length - block.length), block);
  assert.throws(() => new CaptureWriter({ header: { ...TEST_HEADER, options: 1 } }).nativeFrame(1, 1, 0x10), /NATIVE_FRAME 1 of stream 1: parent 1 is not below it/);
});

test('a visitor with frame() gets every FRAME as numbers, with the ids, parents and warnings of the meta path, and no FrameRecord', () => {
  // Version 6 parents with a malformed one (node 4: delta 0, skipped with a warning, its id still taken) and a
  // field missing (node 6), then the every-record capture, compressed and not.
  const payload = [...[1, 1, 2, 0, 1].flatMap((d, i) => [RecordType.Frame, 3, d, 7, i]), RecordType.Frame, 2, 1, 7, RecordType.Frame, 3, 2, 9, 1];
  const hand = new Uint8Array([...encodeHeader({ ...TEST_HEADER, version: 6 }), ...encodeBlock(1, 0, Uint8Array.from(payload))]);
  for (const bytes of [hand, small, smallZ]) {
    const f = new FrameCollector();
    decodeCapture(bytes, f);
    const meta = decode(bytes);
    assert.deepEqual(f.c.items, meta.items);
    assert.deepEqual(f.c.warnings, meta.warnings);
    const frames = meta.items.filter((i) => i.type === 'frame').length;
    assert.ok(frames > 0);
    assert.equal(f.asNumbers, frames, 'every FRAME came as numbers');
  }
  const f = new FrameCollector();
  decodeCapture(hand, f);
  assert.deepEqual(
    f.c.items.map((i) => (i.type === 'frame' ? [i.id, i.parent, i.codeId, i.instr] : [])),
    [
      [1, 0, 7, 0],
      [2, 1, 7, 1],
      [3, 1, 7, 2],
      [5, 4, 7, 4],
      [7, 5, 9, 1],
    ],
  );
  assert.equal(f.c.warnings.length, 2);
});

test('a FRAME read as numbers: a varint past 2^53, fields past its length or bytes after them cost that record alone', () => {
  // Node 1: a code id past 2^53 - 1 (10 bytes); node 2: fine, with two bytes after its fields (ignored); node 3:
  // its length (2) cuts its instruction; node 4: fine. The numbers' reader must leave the varint state clean
  // after a bad one (else the next record read as damaged and the rest of the block skipped).
  const long = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
  const payload = [RecordType.Frame, 12, 1, ...long, 3, RecordType.Frame, 5, 1, 8, 2, 0x55, 0x66, RecordType.Frame, 2, 1, 9, RecordType.Frame, 3, 2, 7, 4];
  const bytes = new Uint8Array([...encodeHeader({ ...TEST_HEADER, version: 6 }), ...encodeBlock(1, 0, Uint8Array.from(payload))]);
  const f = new FrameCollector();
  decodeCapture(bytes, f);
  const meta = decode(bytes);
  assert.deepEqual(f.c.items, meta.items);
  assert.deepEqual(f.c.warnings, meta.warnings);
  assert.deepEqual(
    f.c.items.map((i) => (i.type === 'frame' ? [i.id, i.parent, i.codeId, i.instr] : [])),
    [
      [2, 1, 8, 2],
      [4, 2, 7, 4],
    ],
  );
  assert.deepEqual(
    f.c.warnings.map((w) => [w.kind, /varint above 2\^53 - 1|varint cut short/.test(w.message)]),
    [
      ['bad-record', true],
      ['bad-record', true],
    ],
  );
  assert.equal(f.asNumbers, 2);
});

test('FRAMEs whose fields take one, two or more bytes, cut by their length or not, read in the loop as the meta path reads them', () => {
  // The records loop reads a FRAME's fields of one and two bytes itself and leaves the others to frameAt(): every
  // width at each of the three fields, values at the widths' edges, parent deltas of 0, of the id and past it,
  // lengths one byte short of the fields, exact, and one byte long; the last FRAMEs of a payload are read from its
  // tail's scratch copy. Checked against the meta path (a visitor without frame()), ids, warnings and all.
  const varint = (n: number): number[] => {
    const out: number[] = [];
    while (n >= 0x80) {
      out.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    out.push(n);
    return out;
  };
  const values = [0, 1, 127, 128, 200, 16383, 16384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 + 5];
  const r = rng(29);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  for (const version of [6, 3]) {
    const payload: number[] = [];
    for (let id = 1; id <= 3000; id++) {
      const delta = pick([0, 1, id, id + 1, 1 + Math.floor(r() * id), pick(values)]);
      const fields = [...varint(delta), ...varint(pick(values)), ...varint(pick(values))];
      const len = Math.max(0, fields.length + pick([-1, 0, 0, 0, 1]));
      payload.push(RecordType.Frame, ...varint(len), ...fields.slice(0, len), ...(len > fields.length ? [0x42] : []));
    }
    const bytes = new Uint8Array([...encodeHeader({ ...TEST_HEADER, version }), ...encodeBlock(1, 0, Uint8Array.from(payload))]);
    const f = new FrameCollector();
    decodeCapture(bytes, f);
    const meta = decode(bytes);
    assert.deepEqual(f.c.items, meta.items);
    assert.deepEqual(f.c.warnings, meta.warnings);
    assert.ok(meta.items.length > 1000 && meta.warnings.length > 300, `${meta.items.length} FRAMEs read, ${meta.warnings.length} warned of`);
    assert.equal(f.asNumbers, meta.items.filter((i) => i.type === 'frame').length);
  }
});

test('FRAME parents: version 6 codes them against the node id as NATIVE_FRAME does, version 3 whole', () => {
  const payload = [1, 1, 2, 0].flatMap((d, i) => [RecordType.Frame, 3, d, 7, i]);
  const frames = (version: number): [number, number][] =>
    decode(new Uint8Array([...encodeHeader({ ...TEST_HEADER, version }), ...encodeBlock(1, 0, Uint8Array.from(payload))])).items.flatMap((i) =>
      i.type === 'frame' ? [[i.id, i.parent] as [number, number]] : [],
    );
  // Node 4's delta of 0 would make it its own parent: skipped, as a malformed record.
  assert.deepEqual(frames(6), [
    [1, 0],
    [2, 1],
    [3, 1],
  ]);
  assert.deepEqual(frames(3), [
    [1, 1],
    [2, 1],
    [3, 2],
    [4, 0],
  ]);
  const w = new CaptureWriter({ header: { ...TEST_HEADER, version: 6 } });
  for (const [id, parent] of frames(6)) assert.equal(w.frame(1, parent, 7, id - 1), id);
  w.flush(1);
  const bytes = w.finish();
  const block = encodeBlock(1, 0, Uint8Array.from(payload.slice(0, 15)));
  assert.deepEqual(bytes.subarray(bytes.length - block.length), block);
});

test("packs are decompressed into the decoder's reused buffer, not a new one each, and leave no array per pack behind", () => {
  // Each pack's payload (1 MiB) was decompressed by brotliDecompressSync into a new buffer, and each of its
  // parts copied into one more: 2 MiB of garbage per pack, which V8 collected only once tens of MiB of it
  // had piled up (a 50 M-event capture's reports peaked at 135 MiB of RSS, docs/benchmarks.md "Reports,
  // round seven"). Counted through node:zlib's export, which the decoder's import follows.
  const parts: Uint8Array[] = [];
  writeRealistic({ events: 5_000_000, threads: 2, seed: 3, sink: (b) => parts.push(b) });
  const packed = recompressCapture(concat(parts), { level: FOLLOW_FAST_LEVEL, packs: true });
  parts.length = 0;
  const zlib = createRequire(import.meta.url)('node:zlib') as typeof Zlib;
  const real = zlib.brotliDecompressSync;
  let oneOffs = 0;
  zlib.brotliDecompressSync = (...a: Parameters<typeof real>) => {
    oneOffs++;
    return real(...a);
  };
  syncBuiltinESMExports();
  let packs = 0;
  let events = 0;
  let most = 0;
  try {
    const start = process.memoryUsage().arrayBuffers;
    const d = new CaptureDecoder({
      block: (b) => {
        if (b.kind === BLOCK_KIND_GROUP) packs++;
        most = Math.max(most, process.memoryUsage().arrayBuffers - start);
      },
      alloc: () => {
        events++;
      },
      free: () => undefined,
      meta: () => undefined,
    });
    d.feed(packed);
    d.end();
  } finally {
    zlib.brotliDecompressSync = real;
    syncBuiltinESMExports();
  }
  // 20 packs of version 7's records (25 of version 6's: its addresses took more bytes).
  assert.ok(packs >= 18, `${packs} packs`);
  assert.ok(events > 2_000_000, `${events} allocations`);
  assert.equal(oneOffs, 0);
  assert.ok(most < 12 << 20, `ArrayBuffers grew by ${(most / 2 ** 20).toFixed(1)} MiB over ${packs} packs`);
});

test('a deferred block decoded and dropped is not kept by the decoder (its meta records read from it)', async () => {
  // One thread's block of ~100 KB (a buffer of its own in the pool, not a slab) that starts with meta
  // records: the reader of meta records kept a view of the last block it read, and so that block's buffer
  // (a 32 MiB region of the pool's slabs, for a burst of waiting blocks) to the end of the read.
  const items: Item[] = [
    { type: 'thread', stream: 1, osTid: 7, pythonIdent: 1, name: 'MainThread', timeNs: 0 },
    { type: 'code', stream: 1, codeId: 1, name: 'f', qualname: 'f', filename: 'a.py', firstLineNo: 1, linetableKind: 1, linetable: new Uint8Array(0) },
    { type: 'frame', stream: 1, id: 1, parent: 0, codeId: 1, instr: 0 },
  ];
  for (let i = 0; i < 20_000; i++) items.push({ type: 'alloc', stream: 1, seq: i + 1, address: 0x10000 + i * 64, size: 64, allocator: Allocator.Malloc, stack: 1, nativeStack: 0 });
  const file = writeInFileOrder(items, TEST_HEADER, { blockSize: 1 << 20 });
  const copies: WeakRef<ArrayBufferLike>[] = [];
  // The pool's copies, watched (the one way to reach them from outside).
  const copy = Object.getOwnPropertyDescriptor(BlockPool.prototype, 'copy')!.value as (this: BlockPool, bytes: Uint8Array) => Uint8Array;
  BlockPool.prototype.copy = function (this: BlockPool, bytes: Uint8Array): Uint8Array {
    const c = copy.call(this, bytes);
    copies.push(new WeakRef(c.buffer));
    return c;
  };
  let allocs = 0;
  let waiting: DeferredBlock[] = [];
  const visitor: CaptureVisitor = { meta: () => undefined, alloc: () => void allocs++, free: () => undefined, defer: (b) => void waiting.push(b) };
  const decoder = new CaptureDecoder(visitor);
  try {
    decoder.feed(file);
    decoder.end();
  } finally {
    BlockPool.prototype.copy = copy;
  }
  assert.equal(copies.length, 1);
  assert.ok(waiting[0]!.rawLen >= 64 << 10, `${waiting[0]!.rawLen} bytes`);
  await tick(); // a WeakRef keeps its target for the rest of the job that made it
  for (const b of waiting) b.decode(visitor);
  waiting = [];
  assert.equal(allocs, 20_000);
  collectNow();
  assert.ok(copies[0]!.deref() === undefined, 'the block is still kept');
  assert.ok(decoder.blocks > 0); // the decoder is alive: what it holds counts
});

test("a burst of waiting pack parts keeps the packs' stored bytes, not copies of the parts, and the orderer's output stays the same", () => {
  // One busy thread and a barrier that comes late: every block of it waits in the orderer until the barrier.
  // Copied, a 50 M-event capture's burst (126 blocks, 4 MiB) was every report's peak RSS (docs/benchmarks.md,
  // "Reports' peak memory, round ten"); past PACKED_FROM_BYTES of copies, the packs' stored bytes wait instead.
  const w = new CaptureWriter({ header: TEST_HEADER });
  w.meta({ type: 'thread', stream: 1, osTid: 7, pythonIdent: 1, name: 'MainThread', timeNs: 0 });
  w.frame(1, 0, 1, 0);
  const rand = rng(11);
  let seq = 0;
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 600_000; i++) {
      if (rand() < 0.6) w.alloc(1, ++seq, 0x100000 + 16 * Math.floor(rand() * 1e6), 1 + Math.floor(rand() * 500), Allocator.Malloc, 1, 0);
      else w.free(1, ++seq, 0x100000 + 16 * Math.floor(rand() * 1e6), 0, 0);
    }
    // The barrier written late: the service stream's snapshot and barrier come after blocks past them.
    w.meta({ type: 'snapshot', stream: 0, seq: seq - 1000, timeNs: round, rss: 1, rssAnon: 0, rssFile: 0, rssShmem: 0, swap: undefined, heap: undefined, cgroupUsage: undefined, cgroupLimit: undefined });
    w.barrier(seq - 1000);
  }
  const plain = w.finish();
  const packed = recompressCapture(plain, { level: FOLLOW_FAST_LEVEL, packs: true });
  let groups = 0;
  decodeCapture(packed, { block: (b) => void (b.kind === BLOCK_KIND_GROUP && groups++), alloc: () => undefined, free: () => undefined, meta: () => undefined });
  assert.ok(groups >= 5, `${groups} packs`);
  const read = (bytes: Uint8Array): { items: Item[]; copied: number } => {
    let copied = 0;
    const copy = Object.getOwnPropertyDescriptor(BlockPool.prototype, 'copy')!.value as (this: BlockPool, bytes: Uint8Array) => Uint8Array;
    BlockPool.prototype.copy = function (this: BlockPool, b: Uint8Array): Uint8Array {
      copied += b.length;
      return copy.call(this, b);
    };
    const c = new Collector();
    const o = new SeqOrderer(c);
    try {
      decodeCapture(bytes, o);
      o.end();
    } finally {
      BlockPool.prototype.copy = copy;
    }
    return { items: c.c.items, copied };
  };
  const fromPlain = read(plain);
  const fromPacked = read(packed);
  assert.ok(fromPlain.copied > 5 << 20, `${fromPlain.copied} bytes of blocks waited`);
  // Below PACKED_FROM_BYTES (1 MiB) each burst's parts are copies, and the rest of the pack that crossed it.
  assert.ok(fromPacked.copied < (fromPlain.copied * 2) / 3, `${fromPacked.copied} of ${fromPlain.copied} bytes copied`);
  assert.equal(fromPacked.items.length, fromPlain.items.length);
  assert.deepEqual(fromPacked.items, fromPlain.items);
});

test("a visitor's freeAt() is called instead of free(), with the FREE's address in eventAddress", () => {
  // The orderer takes a FREE's address through eventAddress rather than as an argument, which V8 boxed (a
  // heap object per FREE, half of a report's young garbage: docs/benchmarks.md, "The read's garbage, round
  // eleven"). Every capture version's addresses (v7 references back among them), compressed and packed.
  class AtCollector extends Collector {
    frees = 0;
    freeAt(stream: number, seq: number, size: number, deallocator: number): void {
      this.frees++;
      // A wrong address would read as a different item below; eventAddress is read before anything else runs.
      this.free(stream, seq, eventAddress[0]!, size, deallocator);
    }
  }
  for (const version of [undefined, 3, 6]) {
    const parts: Uint8Array[] = [];
    writeRealistic({ events: 20_000, threads: 3, seed: 5, ...(version !== undefined ? { version } : {}), sink: (b) => parts.push(b) });
    for (const bytes of [concat(parts), recompressCapture(concat(parts), { level: FOLLOW_FAST_LEVEL, packs: true })]) {
      const plain = new Collector();
      decodeCapture(bytes, plain);
      const at = new AtCollector();
      decodeCapture(bytes, at);
      const frees = plain.c.items.filter((it) => 'type' in it && it.type === 'free');
      assert.ok(frees.length > 5000, `version ${version}: ${frees.length} frees`);
      assert.ok(frees.some((it) => 'address' in it && it.address > 2 ** 32));
      assert.equal(at.frees, frees.length);
      assert.deepEqual(at.c.items, plain.c.items);
      // Through the orderer (which has freeAt, and passes it on to a visitor that has it), as a report reads.
      const ordered = new AtCollector();
      const viaAt = new SeqOrderer(ordered);
      decodeCapture(bytes, viaAt);
      viaAt.end();
      assert.ok(ordered.frees > frees.length / 2, `${ordered.frees} of ${frees.length} frees through freeAt`);
      const viaFree = new Collector();
      const orderer = new SeqOrderer(viaFree);
      decodeCapture(bytes, { header: (h) => orderer.header?.(h), alloc: (...a) => orderer.alloc(...a), free: (...a) => orderer.free(...a), meta: (r) => orderer.meta(r) });
      orderer.end();
      assert.deepEqual(ordered.c.items, viaFree.c.items);
    }
  }
});

test('the reference history is sized to the longest block, not doubled for one a few bytes longer', () => {
  // A thread's blocks are about 32 KiB each: doubled, the history went from 128 to 256 KiB for a block two bytes
  // longer than the longest so far, with the first left to the collector (docs/benchmarks.md, "The read's
  // buffers, round twelve").
  const parts: Uint8Array[] = [];
  writeRealistic({ events: 400_000, threads: 2, seed: 5, sink: (b) => parts.push(b) });
  let longest = 0;
  const d = new CaptureDecoder({
    block: (b) => {
      longest = Math.max(longest, b.rawLen);
    },
    alloc: () => undefined,
    free: () => undefined,
    meta: () => undefined,
  });
  d.feed(concat(parts));
  d.end();
  const hist = (d as unknown as { refArrays: Float64Array[] }).refArrays.filter((a) => a !== undefined);
  assert.ok(hist.length > 0, 'a capture with references');
  const need = (longest >> 1) + 2;
  for (const a of hist) assert.ok(a.length <= need * 1.125 + 1024, `${a.length} entries for blocks of at most ${longest} bytes`);
});

/** V8's %GetOptimizationStatus (16: the bit for optimized code); only source compiled after the flag can call it. */
function optimizationStatus(): (f: unknown) => number {
  setFlagsFromString('--allow-natives-syntax');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- %GetOptimizationStatus is the point
  return new Function('f', 'return %GetOptimizationStatus(f)') as (f: unknown) => number;
}

/** A capture of packs (the realistic writer's 1 KiB blocks) whose first pack comes `times` times, and that pack's parts. */
function firstPackSixtyTimes(times = 60): { capture: Uint8Array; groupParts: number } {
  const parts: Uint8Array[] = [];
  writeRealistic({ events: 20_000, threads: 4, seed: 5, blockSize: 1024, sink: (b) => parts.push(b) });
  const packed = recompressCapture(concat(parts), { level: FOLLOW_FAST_LEVEL, packs: true });
  let group: { offset: number; headerLen: number; storedLen: number } | undefined;
  let first = Infinity;
  let groupParts = 0;
  decodeCapture(packed, {
    block: (b) => {
      first = Math.min(first, b.offset);
      if (b.kind === BLOCK_KIND_GROUP) group ??= b;
      else if (b.offset === group?.offset) groupParts++;
    },
    alloc: () => undefined,
    free: () => undefined,
    meta: () => undefined,
  });
  assert.ok(group !== undefined, 'a pack');
  const block = packed.subarray(group.offset, group.offset + group.headerLen + group.storedLen);
  return { capture: concat([packed.subarray(0, first), ...Array<Uint8Array>(times).fill(block)]), groupParts };
}

test("memlens' own plain block at the end of a capture of packs does not deoptimize the records loop", () => {
  // A capture of packs decodes its parts at nesting levels 1 and 2 and may hold plain blocks only at its end
  // (memlens' EXIT record, stream 2^32 - 1, uncompressed). The first plain block at level 0 met a branch that V8
  // had no feedback for (the level's scratch arrays, made lazily), an object of another shape (the framer's
  // block, its stream id not a small integer) and an add only uncompressed blocks' meta records do: records()
  // and recordsAt() were deoptimized and recompiled at the very end of a big read, 1.9 MiB of malloc's heap on
  // top of the read's largest moment (docs/benchmarks.md, "The end of a read, round fifteen").
  const status = optimizationStatus();
  const { capture } = firstPackSixtyTimes();
  const exits: unknown[] = [];
  const v: CaptureVisitor = {
    alloc: () => undefined,
    free: () => undefined,
    meta: (m) => {
      if (m.type === 'exit') exits.push(m);
    },
    defer: (b) => b.decode(v),
  };
  const d = new CaptureDecoder(v);
  d.feed(capture);
  const proto = CaptureDecoder.prototype as unknown as Record<string, unknown>;
  // 16: V8's OptimizationStatus bit for optimized code.
  assert.notEqual(status(proto['recordsAt']) & 16, 0, 'recordsAt was not optimized by the packs');
  d.feed(encodeAppendix([{ type: 'exit', stream: STREAM_MEMLENS, timeNs: 5, exitCode: 0, signal: 0, oomKill: 0, detail: '' }]));
  d.end();
  assert.equal(d.warnings, 0);
  assert.equal(exits.length, 1);
  assert.notEqual(status(proto['recordsAt']) & 16, 0, 'recordsAt was deoptimized by the plain block at the end');
  assert.notEqual(status(proto['records']) & 16, 0, 'records was deoptimized by the plain block at the end');
});

test("a read of many packs does not make the group's own function hot: only its parts' callback is", () => {
  // groupRecords() with each part's work in its own loop became hot after a few thousand parts (60 groups of 86
  // here), late in a big read, and its compile (everything it calls inlined) put 1.3 MiB of compiler zone on top
  // of a report's largest moment (docs/benchmarks.md, "stats' peak, round fifteen"); with one call a part it still
  // became hot past about 8 000 parts (85 % into the 50 M-event capture's read: 10-13 ms of compiler zone, "stats'
  // peak, round sixteen"). V8 finds a function hot by the bytecode it runs itself. The parts are walked by forEach:
  // 200 groups of 86 parts (17 200) leave it cold (its callback is compiled, with groupPart() inlined).
  const status = optimizationStatus();
  const { capture, groupParts } = firstPackSixtyTimes(200);
  assert.equal(groupParts, 86);
  let allocs = 0;
  const v: CaptureVisitor = { alloc: () => void allocs++, free: () => undefined, meta: () => undefined, defer: (b) => b.decode(v) };
  const d = new CaptureDecoder(v);
  d.feed(capture);
  d.end();
  assert.equal(d.warnings, 0);
  assert.ok(allocs > 200 * 5000, `${allocs} allocations`);
  const proto = CaptureDecoder.prototype as unknown as Record<string, unknown>;
  assert.equal(status(proto['groupRecords']) & 16, 0, 'groupRecords was optimized');
});

test("a group's parts are passed on by one callback made with the decoder, not a closure per group", () => {
  // A closure made per group was compiled again and again by V8 (its code let go with the closures it was made
  // for): five times in `summary` of the 50 M-event capture, once at its peak (docs/benchmarks.md, "stats'
  // peak, round sixteen"). The callbacks forEach is given over a group's parts, recorded.
  const { capture } = firstPackSixtyTimes(3);
  const callbacks = new Set<unknown>();
  let walks = 0;
  const forEach = Array.prototype.forEach;
  Array.prototype.forEach = function (this: unknown[], fn: (value: unknown, index: number, array: unknown[]) => void, thisArg?: unknown): void {
    const first = this[0] as { payload?: unknown; baseSeq?: unknown } | undefined;
    if (first?.payload instanceof Uint8Array && typeof first.baseSeq === 'number') {
      callbacks.add(fn);
      walks++;
    }
    forEach.call(this, fn, thisArg);
  };
  try {
    const v: CaptureVisitor = { alloc: () => undefined, free: () => undefined, meta: () => undefined, defer: (b) => b.decode(v) };
    const d = new CaptureDecoder(v);
    d.feed(capture);
    d.end();
    assert.equal(d.warnings, 0);
  } finally {
    Array.prototype.forEach = forEach;
  }
  assert.equal(walks, 3, `${walks} groups walked`);
  assert.equal(callbacks.size, 1, `${callbacks.size} callbacks for 3 groups`);
});

test('long varints: addresses and sizes of every length up to 2^53 − 1 read back exactly; one past 2^53 − 1 or past 10 bytes is a bad record', () => {
  // The loop reads a varint's bits past the 28th apart (varintHigh) and a whole address into a Float64Array
  // (wholeAt): values at each length's edges, in every capture version's address coding.
  const edges: number[] = [];
  for (let bits = 7; bits <= 53; bits += 7) edges.push(2 ** bits - 1, 2 ** bits, 2 ** bits + 1);
  edges.push(2 ** 28 - 1, 2 ** 28, 2 ** 28 + 2 ** 27 + 5, 2 ** 31 + 1, 2 ** 32 + 3, 2 ** 40 + 2 ** 28 + 7, 2 ** 52 + 3, 2 ** 53 - 2, 2 ** 53 - 1);
  const values = edges.filter((v) => v > 0 && v <= 2 ** 53 - 1);
  const rand = rng(21);
  for (const version of [1, 3, undefined]) {
    const w = new CaptureWriter({ header: version === undefined ? {} : { version } });
    const want: [string, number, number][] = [];
    let seq = 1;
    for (let i = 0; i < 400; i++) {
      // Addresses far apart (written whole) and near the last ones (deltas), sizes of every length.
      const address = values[Math.floor(rand() * values.length)]! - (i % 3 === 0 ? 16 * Math.floor(rand() * 4) : 0);
      const size = values[Math.floor(rand() * values.length)]!;
      w.alloc(1, seq++, address, size, 0, 0, 0);
      want.push(['alloc', address, size]);
      // Frees of other far addresses too (a FREE's whole address; one of the allocation's is a reference back).
      const freed = i % 2 === 0 ? address : values[Math.floor(rand() * values.length)]!;
      w.free(1, seq++, freed, 0, 0);
      want.push(['free', freed, 0]);
    }
    const c = decode(w.finish());
    assert.deepEqual(c.warnings, []);
    assert.deepEqual(
      c.items.map((it) => ('type' in it && (it.type === 'alloc' || it.type === 'free') ? [it.type, it.address, it.type === 'alloc' ? it.size : 0] : undefined)).filter((x) => x !== undefined),
      want,
    );
  }
  // Version 1's ALLOC 0x87 (seq + 1, whole address, no stack): address varint, size varint, written by hand.
  const varint = (v: number): number[] => {
    const b = new ByteWriter();
    b.varint(v);
    return [...b.bytes()];
  };
  const over = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]; // 2^53
  const long = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]; // 11 bytes
  const w = new CaptureWriter({ header: { version: 1 } });
  w.alloc(1, 1, 0x1000, 8, 0, 0, 0);
  w.flush(1);
  const payloads = [
    [0x87, ...varint(2 ** 53 - 1), ...varint(2 ** 53 - 1)], // read
    [0x87, ...over, 0x08], // an address past 2^53 − 1
    [0x87, ...varint(0x1000), ...over], // a size past 2^53 − 1
    [0x87, ...long, 0x08],
    [0x87, ...varint(0x1000), ...long],
  ];
  for (const p of payloads) w.raw(encodeBlock(1, 0, Uint8Array.from(p)));
  const c = decode(w.finish());
  const allocs = c.items.filter((it) => 'type' in it && it.type === 'alloc');
  assert.deepEqual(
    allocs.map((it) => 'address' in it && [it.address, it.size]),
    [
      [0x1000, 8],
      [2 ** 53 - 1, 2 ** 53 - 1],
    ],
  );
  assert.deepEqual(
    c.warnings.map((x) => /bad varint in an ALLOC record/.test(x.message)),
    [true, true, true, true],
  );
});

/** A capture of stream 1: `blocks` blocks of ALLOC/FREE pairs, each with a GC record, or a snapshot with `snapshots`. */
function eventsWithMeta(w: CaptureWriter, blocks: number, firstSeq: number, snapshots = false): number {
  let seq = firstSeq;
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < 100; i++) {
      w.alloc(1, seq++, 0x10000 + 64 * (i % 16), 32, 0, 1, 0);
      w.free(1, seq++, 0x10000 + 64 * (i % 16), 32, 0);
    }
    if (snapshots) {
      w.meta({
        type: 'snapshot',
        stream: 1,
        seq: seq++,
        timeNs: 2 ** 40 + b,
        rss: 1 << 20,
        rssAnon: 1,
        rssFile: 2,
        rssShmem: 3,
        swap: undefined,
        heap: undefined,
        cgroupUsage: undefined,
        cgroupLimit: undefined,
      });
    } else w.meta({ type: 'gc', stream: 1, seq: seq++, timeNs: 2 ** 40 + b, generation: 0, collected: b % 3, uncollectable: 0, durationNs: 5, startSeq: seq - 2 });
    w.flush(1);
  }
  return seq;
}

test("a meta record other than a FRAME reaches the visitor's meta() from metaAt(), not from the records loop", () => {
  // The orderer's meta() inlined into recordsAt() checked the records' maps; a record of a map not seen before (a
  // kind first met late, or a record whose fields became doubles: a snapshot's ownNs or a GC record's times past
  // 2^30) deoptimized recordsAt() and it was compiled again with all it inlines: 21-33 compiles in churn's `stats`
  // instead of 9-10 (docs/benchmarks.md, "The records loop's meta path, round twenty-two"). The call is made from
  // metaAt(), which the reports' budget leaves a call (their hot callees take it); V8 names inlined frames too.
  const w = new CaptureWriter({ header: {} });
  const seq = eventsWithMeta(w, 3, 1);
  eventsWithMeta(w, 2, seq, true);
  const callers = new Map<string, string>();
  const v: CaptureVisitor = {
    alloc: () => undefined,
    free: () => undefined,
    meta: (m) => {
      const caller = /\n\s+at (?:\S+\.)?(\w+) /.exec(new Error().stack!.split('\n').slice(1).join('\n'))?.[1] ?? '?';
      callers.set(m.type, caller);
    },
  };
  const d = new CaptureDecoder(v);
  d.feed(w.finish());
  d.end();
  assert.equal(d.warnings, 0);
  assert.deepEqual(
    [...callers],
    [
      ['gc', 'metaAt'],
      ['snapshot', 'metaAt'],
    ],
  );
});

test('a stream first met at the end of a read does not deoptimize the records loop', () => {
  // nodesOf(), inlined into recordsAt(), makes a stream's node counters when it first meets the stream: in the
  // first blocks, before V8 gave it feedback, and then at memlens' own block at the end; that branch deoptimized
  // recordsAt() there, and it was compiled again on top of the read's largest moment (docs/benchmarks.md, "The
  // records loop's meta path, round twenty-two"). feedSeqDelta() takes the branch once with feedback.
  const status = optimizationStatus();
  useReportFlags();
  try {
    const w = new CaptureWriter({ header: {} });
    const seq = eventsWithMeta(w, 300, 1);
    const first = w.take();
    w.alloc(7, seq, 0x20000, 16, 0, 1, 0);
    w.flush(7);
    const rest = w.finish();
    let allocs = 0;
    const v: CaptureVisitor = { alloc: () => void allocs++, free: () => undefined, meta: () => undefined };
    const d = new CaptureDecoder(v);
    d.feed(first);
    const proto = CaptureDecoder.prototype as unknown as Record<string, unknown>;
    assert.notEqual(status(proto['recordsAt']) & 16, 0, 'recordsAt was not optimized by the first blocks');
    d.feed(rest);
    d.end();
    assert.equal(d.warnings, 0);
    assert.equal(allocs, 300 * 100 + 1);
    assert.notEqual(status(proto['recordsAt']) & 16, 0, 'recordsAt was deoptimized by the new stream');
  } finally {
    restoreReportFlags();
  }
});
