import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEST_HEADER } from '../../test/support/synthetic.js';
import { FILE_MAGIC } from './format.js';
import { decodeHeader, EMPTY_HEADER, encodeHeader, makeHeader } from './header.js';

test('a header round-trips with every field, unknown fields kept, and re-encodes to the same bytes', () => {
  const bytes = encodeHeader(TEST_HEADER);
  const h = decodeHeader(bytes);
  assert.deepEqual(h, makeHeader(TEST_HEADER));
  assert.deepEqual(encodeHeader(h), bytes);
  assert.deepEqual(bytes.subarray(0, 8), FILE_MAGIC);
});

test('an empty header decodes to the defaults; absent cgroup limit differs from a limit of 0', () => {
  const h = decodeHeader(encodeHeader({}));
  assert.deepEqual(h, EMPTY_HEADER);
  assert.equal(h.cgroupLimitBytes, undefined);
  assert.equal(decodeHeader(encodeHeader({ cgroupLimitBytes: 0 })).cgroupLimitBytes, 0);
  assert.equal(encodeHeader({}).length, 20);
});

test('64-bit clock values survive as bigints', () => {
  const h = decodeHeader(encodeHeader({ startWallNs: 2n ** 64n - 1n, startMonoNs: 1n }));
  assert.equal(h.startWallNs, 2n ** 64n - 1n);
  assert.equal(h.startMonoNs, 1n);
});

test('a malformed field inside a header with a good CRC is an error naming the offset', () => {
  // Tag 3 (pid) whose value is a varint cut short.
  const body = Uint8Array.of(3, 1, 0x80);
  const bytes = new Uint8Array(20 + body.length);
  bytes.set(FILE_MAGIC);
  const dv = new DataView(bytes.buffer);
  dv.setUint16(8, 1, true);
  dv.setUint16(10, 1, true);
  dv.setUint32(12, body.length, true);
  bytes.set(body, 20);
  dv.setUint32(16, crc32(body), true);
  assert.throws(() => decodeHeader(bytes, 'x.mlens'), /x\.mlens has a malformed header field: varint cut short at offset 22/);
});

import { crc32 } from 'node:zlib';
