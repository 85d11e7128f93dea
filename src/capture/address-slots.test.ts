// Version 3's address coding (docs/capture-format.md "Addresses") and version 7's references: the bytes the
// writer rules give, the values the decoder reads back, blocks that decode on their own, and the merger's
// re-encoding.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Collector, reencode, type Collected, type Item } from '../../test/support/collect.js';
import { prng } from '../../test/support/prng.js';
import { recompressCapture } from './compress.js';
import { decodeCapture } from './decoder.js';
import { CaptureWriter, encodeBlock } from './encoder.js';
import { BLOCK_HEADER_LEN, BLOCK_KIND_RECORDS } from './format.js';
import { encodeHeader } from './header.js';
import { ByteWriter } from './varint.js';

function decode(bytes: Uint8Array): Collected {
  const c = new Collector();
  decodeCapture(bytes, c);
  return c.c;
}

const varint = (n: number): number[] => {
  const w = new ByteWriter();
  w.varint(n);
  return [...w.bytes()];
};

type Event = Extract<Item, { type: 'alloc' | 'free' }>;
const isEvent = (it: Item): it is Event => it.type === 'alloc' || it.type === 'free';
const events = (c: Collected): Event[] => c.items.filter(isEvent);
/** Events in seq order (blocks of several streams interleave in the file). */
const bySeq = (c: Collected): Event[] => events(c).sort((x, y) => x.seq - y.seq);

test('the writer rules give these bytes, and the decoder reads the addresses back', () => {
  const w = new CaptureWriter({ header: { version: 6 } });
  // Pages of 16 KiB: 0x10000 is page 4 and 0x20000 page 8, both in set 0 (slots 0 and 1); 0x14000 is page 5, set 1.
  w.free(1, 1, 0x10000, 0, 2); // miss: no slot of its set in its page; slot 0 (both unused), delta 0x10000 / 8 against 0
  w.alloc(1, 2, 0x10030, 48, 9, 0, 0); // hit: slot 0 holds 0x10000, delta 3 × 16
  w.free(1, 3, 0x10008, 0, 2); // same page but 40 bytes from slot 0's last: miss into slot 0, delta −5 × 8
  w.alloc(1, 4, 0x20000, 16, 9, 0, 0); // another page of set 0: miss into slot 1 (less recently used), delta against 0x10008
  w.alloc(1, 5, 0x20005, 1, 9, 0, 0); // not a multiple of 8 from the previous address: slot byte, whole address
  w.free(1, 6, 0x10018, 0, 2); // hit: slot 0 holds 0x10008, delta 1 × 16
  w.alloc(1, 7, 0x14000, 32, 9, 0, 0); // set 1: miss into slot 2, delta against 0x10018
  w.free(1, 8, 0x14010, 0, 2); // hit: slot 2, delta 1 × 16
  const bytes = w.finish();
  const payload = [...bytes.subarray(encodeHeader({ version: 6 }).length + BLOCK_HEADER_LEN)];
  assert.deepEqual(payload, [
    ...[0x76, ...varint((0x10000 / 8) * 2 * 8 + 0)],
    ...[0xcd, 3 * 2 * 8 + 0, 48],
    ...[0x76, (5 * 2 - 1) * 8 + 0],
    ...[0xcf, ...varint(((0x20000 - 0x10008) / 8) * 2 * 8 + 1), 16],
    ...[0xcf, 1, ...varint(0x20005), 1],
    ...[0x72, 1 * 2 * 8 + 0],
    ...[0xcf, ...varint(((0x14000 - 0x10018) / 8) * 2 * 8 + 2), 32],
    ...[0x72, 1 * 2 * 8 + 2],
  ]);
  assert.deepEqual(
    events(decode(bytes)).map((e) => e.address),
    [0x10000, 0x10030, 0x10008, 0x20000, 0x20005, 0x10018, 0x14000, 0x14010],
  );
});

test('version 7: an ALLOC of what a FREE of the block freed, a FREE of what an ALLOC allocated, as how many back', () => {
  const w = new CaptureWriter({ header: { version: 7 } });
  w.alloc(1, 1, 0x10000, 48, 9, 0, 0); // nothing before it: slot 0, delta 0x10000 / 8 against 0 (w)
  w.free(1, 2, 0x10000, 0, 2); // the last ALLOC: reference 0
  w.alloc(1, 3, 0x10030, 48, 9, 0, 0); // never seen: slot 0 (a reference leaves the slots), delta 3 × 16, shifted by one
  w.alloc(1, 4, 0x10000, 16, 9, 0, 0); // the last FREE's address: reference 0
  w.free(1, 5, 0x10030, 0, 2); // the ALLOC before the last: reference 1
  w.free(1, 6, 0x10000, 0, 2); // the last ALLOC: reference 0
  w.alloc(1, 7, 0x10008, 16, 9, 0, 0); // 40 bytes from slot 0's 0x10030: w, delta 1 × 8 against the previous address
  w.free(1, 8, 0x10030, 0, 2); // the last event on it is a FREE (seq 5): no reference; slot 0 holds 0x10008, 40 bytes off: w, delta 5 × 8
  const bytes = w.finish();
  const payload = [...bytes.subarray(encodeHeader({ version: 7 }).length + BLOCK_HEADER_LEN)];
  assert.deepEqual(payload, [
    ...[0xcf, ...varint((0x10000 / 8) * 2 * 8 + 0), 48],
    ...[0x72, 0 * 2 + 1],
    ...[0xcd, (3 * 2 * 8 + 0) * 2, 48],
    ...[0xcd, 0 * 2 + 1, 16],
    ...[0x72, 1 * 2 + 1],
    ...[0x72, 0 * 2 + 1],
    ...[0xcf, 1 * 2 * 8 + 0, 16],
    ...[0x76, 5 * 2 * 8 + 0],
  ]);
  assert.deepEqual(
    events(decode(bytes)).map((e) => e.address),
    [0x10000, 0x10000, 0x10030, 0x10000, 0x10030, 0x10000, 0x10008, 0x10030],
  );
});

test('version 7: a reference to an event the block does not have is a bad record', () => {
  const h = encodeHeader({ version: 7 });
  // An ALLOC, then a FREE of the ALLOC before it (reference 1): there is none.
  const payload = Uint8Array.of(0xcf, ...varint((0x10000 / 8) * 2 * 8), 48, 0x72, 1 * 2 + 1);
  const c = decode(concatBytes(h, encodeBlock(1, 0, payload)));
  assert.deepEqual(
    c.warnings.map((x) => x.kind),
    ['bad-record'],
  );
  assert.match(c.warnings[0]!.message, /FREE record whose address or seq is out of range/);
  assert.deepEqual(
    events(c).map((e) => e.address),
    [0x10000],
  );
});

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Events of a pymalloc-like program: blocks from a few pools of 16 KiB, now and then a far or odd address. */
function poolEvents(n: number, seed: number, reuse = false): Item[] {
  const rand = prng(seed);
  const pools = Array.from({ length: 24 }, (_, i) => 0x7f3a_0000_0000 + i * 0x4000 * 7);
  const live: number[] = [];
  // With `reuse`, an allocation takes the address freed last, most of the time (pymalloc's free lists).
  const freed: number[] = [];
  const out: Item[] = [];
  for (let seq = 1; seq <= n; seq++) {
    const r = rand();
    if (live.length > 0 && r < 0.45) {
      const i = Math.floor(rand() * Math.min(live.length, 8));
      const [a] = live.splice(live.length - 1 - i, 1);
      freed.push(a!);
      out.push({ type: 'free', stream: 1 + (seq % 3), seq, address: a!, size: 0, deallocator: 2 });
      continue;
    }
    let address: number;
    if (reuse && freed.length > 0 && r < 0.8) address = freed.splice(freed.length - 1 - Math.floor(rand() * rand() * Math.min(freed.length, 4)), 1)[0]!;
    else if (r < 0.9) address = pools[Math.floor(rand() * rand() * pools.length)]! + 16 * Math.floor(rand() * 1000);
    else if (r < 0.95)
      address = Math.floor(rand() * 2 ** 47) * 16; // malloc, mmap: far away
    else if (r < 0.97)
      address = 1 + Math.floor(rand() * 2 ** 52); // not aligned (PyTraceMalloc_Track)
    else if (r < 0.985)
      address = Number.MAX_SAFE_INTEGER - Math.floor(rand() * 64); // the extremes the format holds
    else address = Math.floor(rand() * 64);
    live.push(address);
    out.push({ type: 'alloc', stream: 1 + (seq % 3), seq, address, size: 1 + Math.floor(rand() * 512), allocator: 9, stack: 0, nativeStack: 0 });
  }
  return out;
}

function write(items: readonly Item[], version: number, blockSize = 2000): Uint8Array {
  const w = new CaptureWriter({ header: { version }, blockSize });
  for (const it of items) {
    if (it.type === 'alloc') w.alloc(it.stream, it.seq, it.address, it.size, it.allocator, it.stack, it.nativeStack);
    else if (it.type === 'free') w.free(it.stream, it.seq, it.address, it.size, it.deallocator);
  }
  return w.finish();
}

test('version 7 reads back the same events as version 3, in fewer bytes where addresses are reused', () => {
  const items = poolEvents(20000, 9, true);
  const v3 = write(items, 3);
  const v7 = write(items, 7);
  const b = decode(v7);
  assert.deepEqual(b.warnings, []);
  assert.equal(b.header?.minReaderVersion, 7);
  assert.deepEqual(bySeq(b), items);
  assert.deepEqual(bySeq(decode(v3)), items);
  assert.ok(v7.length < v3.length, `${v7.length} bytes in version 7, ${v3.length} in version 3`);
  assert.ok(Buffer.from(reencode(b)).equals(Buffer.from(v7)));
});

test('versions 1 and 3 read back the same events; version 3 is smaller on pool addresses', () => {
  const items = poolEvents(20000, 7);
  const v1 = write(items, 1);
  const v3 = write(items, 3);
  const a = decode(v1);
  const b = decode(v3);
  assert.deepEqual(a.warnings, []);
  assert.deepEqual(b.warnings, []);
  assert.equal(a.header?.minReaderVersion, 1);
  assert.equal(b.header?.minReaderVersion, 3);
  assert.deepEqual(bySeq(b), items);
  assert.deepEqual(bySeq(a), items);
  assert.ok(v3.length < v1.length, `${v3.length} bytes in version 3, ${v1.length} in version 1`);
  // Decoded and written again block by block: the same bytes (the encoder follows its own rules).
  assert.ok(Buffer.from(reencode(b)).equals(Buffer.from(v3)));
});

test('every block decodes on its own: a damaged block does not disturb the slots of the next', () => {
  const items = poolEvents(3000, 11).map((it) => ({ ...it, stream: 1 }));
  const bytes = write(items, 3, 600);
  const whole = decode(bytes);
  assert.ok(whole.blocks.length >= 4);
  // Damage the second block's payload (its CRC no longer checks out): the reader skips to the third.
  const hurt = bytes.slice();
  const second = whole.blocks[1]!;
  hurt[second.offset + BLOCK_HEADER_LEN + 3]! ^= 0x55;
  const c = decode(hurt);
  assert.deepEqual(
    c.warnings.map((w) => w.kind),
    ['damaged-block'],
  );
  const lost = new Set(whole.items.filter((_, i) => whole.blockOf[i] === 1));
  assert.deepEqual(
    events(c),
    whole.items.filter((it) => !lost.has(it) && (it.type === 'alloc' || it.type === 'free')),
  );
});

for (const version of [3, 7])
  test(`recompression merges version-${version} blocks and keeps every address`, () => {
    const items = poolEvents(6000, 3, version >= 7);
    const input = write(items, version, 300);
    const out = recompressCapture(input);
    const c = decode(out);
    assert.deepEqual(c.warnings, []);
    assert.ok(c.blocks.length * 5 < decode(input).blocks.length, 'blocks were merged');
    const byStream = (its: readonly Item[], s: number): Item[] => its.filter((it) => it.stream === s);
    for (const s of [1, 2, 3]) assert.deepEqual(byStream(events(c), s), byStream(items, s));
    // The merger writes a merged block's addresses as the encoder would write the same events in one block.
    const merged = new CaptureWriter({ header: { version }, compressLevel: 5 });
    let current = -1;
    for (let i = 0; i < c.items.length; i++) {
      const it = c.items[i]!;
      if (c.blockOf[i] !== current) {
        if (current >= 0) merged.flush(c.blocks[current]!.stream);
        current = c.blockOf[i]!;
      }
      if (it.type === 'alloc') merged.alloc(it.stream, it.seq, it.address, it.size, it.allocator, it.stack, it.nativeStack);
      else if (it.type === 'free') merged.free(it.stream, it.seq, it.address, it.size, it.deallocator);
    }
    // A group block's parts are reported as records blocks of their own (the group itself as kind 2).
    const rawOf = (bytes: Uint8Array): number => decode(bytes).blocks.reduce((n, b) => n + (b.kind === BLOCK_KIND_RECORDS ? b.rawLen : 0), 0);
    assert.equal(rawOf(merged.finish()), rawOf(out));
  });
