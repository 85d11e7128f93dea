import assert from 'node:assert/strict';
import { test } from 'node:test';
import { brotliCompressSync, constants } from 'node:zlib';
import { prng } from '../../test/support/prng.js';
import { BlockInflater } from './block-inflater.js';

function block(n: number, seed: number): Uint8Array {
  const rnd = prng(seed);
  const raw = new Uint8Array(n);
  for (let i = 0; i < n; i++) raw[i] = rnd() < 0.7 ? i & 7 : Math.floor(rnd() * 256);
  return raw;
}

const compress = (raw: Uint8Array): Uint8Array => brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } });

test('blocks decompress exactly, one after another, into a buffer per nesting level', () => {
  const inf = new BlockInflater();
  for (let i = 0; i < 50; i++) {
    const raw = block(1 + ((i * 7919) % 40000), i);
    const out = inf.decompress(compress(raw), raw.length, i % 3);
    assert.ok(out !== undefined);
    assert.deepEqual(out, raw);
  }
  // A block decoded while another one is being read (a deeper level) leaves the outer one intact.
  const a = block(30000, 1);
  const b = block(20000, 2);
  const outA = inf.decompress(compress(a), a.length, 0);
  const outB = inf.decompress(compress(b), b.length, 1);
  assert.deepEqual(outA, a);
  assert.deepEqual(outB, b);
});

test('damaged data, a wrong announced length or trailing bytes give undefined, and the next block still decompresses', () => {
  const inf = new BlockInflater();
  const raw = block(20000, 3);
  const c = compress(raw);
  assert.equal(inf.decompress(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), 100, 0), undefined);
  assert.equal(inf.decompress(c.subarray(0, c.length >> 1), raw.length, 0), undefined);
  assert.equal(inf.decompress(c, raw.length - 1, 0), undefined);
  assert.equal(inf.decompress(c, raw.length + 1, 0), undefined);
  const trailing = new Uint8Array(c.length + 3);
  trailing.set(c);
  assert.equal(inf.decompress(trailing, raw.length, 0), undefined);
  assert.deepEqual(inf.decompress(c, raw.length, 0), raw);
});

test('packs a few bytes longer than the one before are decompressed into the same buffer', () => {
  // Sized to each new longest, the buffer was made again for each of these (1 MiB of garbage each).
  const inf = new BlockInflater();
  const buffers = new Set<ArrayBufferLike>();
  for (let i = 0; i < 8; i++) {
    const raw = block((1 << 20) + 1000 * i, i);
    const out = inf.decompress(compress(raw), raw.length, 0);
    assert.deepEqual(out, raw);
    buffers.add(out.buffer);
  }
  assert.equal(buffers.size, 1);
});
