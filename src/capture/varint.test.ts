import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CaptureFormatError } from '../errors.js';
import { MAX_STRING_LEN } from './format.js';
import { ByteReader, ByteWriter, varintLength, zigzagDecode, zigzagEncode } from './varint.js';

const EDGES = [0, 1, 127, 128, 255, 16383, 16384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35, 2 ** 49, 2 ** 52, 2 ** 53 - 1];

test('varints round-trip at every length boundary up to 2^53 - 1, with the LEB128 byte count', () => {
  const w = new ByteWriter(4);
  for (const v of EDGES) w.varint(v);
  const r = new ByteReader(w.bytes());
  for (const v of EDGES) {
    const at = r.pos;
    assert.equal(r.varint(), v);
    assert.equal(r.pos - at, varintLength(v), `length of ${v}`);
  }
  assert.equal(r.remaining, 0);
  assert.deepEqual(Array.from(bytesOf((w2) => w2.varint(300))), [0xac, 0x02]);
});

function bytesOf(f: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter();
  f(w);
  return w.bytes();
}

test('varints above 2^53 - 1, longer than 10 bytes, or cut short are errors with their offset', () => {
  const big = bytesOf((w) => w.varintBig(2n ** 53n));
  assert.throws(
    () => new ByteReader(big, 0, big.length, 100).varint(),
    (e: unknown) => e instanceof CaptureFormatError && /above 2\^53 - 1 at offset 100/.test(e.message),
  );
  assert.equal(new ByteReader(big).varintBig(), 2n ** 53n);
  const max64 = bytesOf((w) => w.varintBig(2n ** 64n - 1n));
  assert.equal(max64.length, 10);
  assert.equal(new ByteReader(max64).varintBig(), 2n ** 64n - 1n);
  assert.throws(() => new ByteReader(new Uint8Array(11).fill(0x80)).varint(), /longer than 10 bytes/);
  assert.throws(() => new ByteReader(Uint8Array.of(0x80, 0x80)).varint(), /cut short/);
  // A non-minimal encoding of a small value is accepted.
  assert.equal(new ByteReader(Uint8Array.of(0x85, 0x80, 0x80, 0x80, 0x80, 0x00)).varint(), 5);
  assert.throws(() => new ByteWriter().varint(2 ** 53), RangeError);
  assert.throws(() => new ByteWriter().varint(-1), RangeError);
  assert.throws(() => new ByteWriter().varint(1.5), RangeError);
});

test('zigzag maps signed to unsigned and back, beyond 32 bits', () => {
  const values = [0, -1, 1, -2, 2, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 40, -(2 ** 40), 2 ** 52 - 1, -(2 ** 52)];
  for (const v of values) assert.equal(zigzagDecode(zigzagEncode(v)), v, String(v));
  assert.deepEqual([0, -1, 1, -2, 2].map(zigzagEncode), [0, 1, 2, 3, 4]);
  const w = new ByteWriter();
  for (const v of values) w.svarint(v);
  const r = new ByteReader(w.bytes());
  for (const v of values) assert.equal(r.svarint(), v);
});

test('strings and byte strings: empty, non-ASCII, invalid UTF-8, the 1 MiB limit', () => {
  const strings = ['', 'a', 'größe', '日本語', '😀 emoji', 'x'.repeat(200), 'ü'.repeat(100)];
  const w = new ByteWriter(1);
  for (const s of strings) w.string(s);
  w.bytesField(Uint8Array.of(0xff, 0xfe, 0));
  w.bytesField(new Uint8Array(0));
  const r = new ByteReader(w.bytes());
  for (const s of strings) assert.equal(r.string(), s);
  assert.deepEqual(r.bytes(), Uint8Array.of(0xff, 0xfe, 0));
  assert.deepEqual(r.bytes(), new Uint8Array(0));
  assert.equal(new ByteReader(Uint8Array.of(2, 0xc3, 0x28)).string(), '\ufffd(');
  assert.throws(() => new ByteWriter().string('x'.repeat(MAX_STRING_LEN + 1)), RangeError);
  const huge = bytesOf((x) => x.varint(MAX_STRING_LEN + 1));
  assert.throws(() => new ByteReader(huge).string(), /above the limit/);
  assert.throws(() => new ByteReader(Uint8Array.of(5, 1, 2)).bytes(), /runs past the end/);
});

test('ByteWriter grows and writes little-endian fixed-width integers', () => {
  const w = new ByteWriter(1);
  w.u16(0x1234);
  w.u32(0xdeadbeef);
  w.u64(2 ** 53 - 1);
  assert.deepEqual(Array.from(w.bytes()), [0x34, 0x12, 0xef, 0xbe, 0xad, 0xde, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00]);
});
