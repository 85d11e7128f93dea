import assert from 'node:assert/strict';
import { test } from 'node:test';
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import { prng } from '../../test/support/prng.js';
import { BlockDeflater } from './block-deflater.js';

function block(n: number, seed: number, noise = 0.3): Uint8Array {
  const rnd = prng(seed);
  const raw = new Uint8Array(n);
  for (let i = 0; i < n; i++) raw[i] = rnd() < 1 - noise ? i & 7 : Math.floor(rnd() * 256);
  return raw;
}

const sync = (raw: Uint8Array, quality: number, lgwin: number): Uint8Array =>
  brotliCompressSync(raw, {
    params: { [constants.BROTLI_PARAM_QUALITY]: quality, [constants.BROTLI_PARAM_LGWIN]: lgwin, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
  });

test("blocks one after another, at each block's own quality and window: the bytes of brotliCompressSync", () => {
  const def = new BlockDeflater();
  for (let i = 0; i < 40; i++) {
    const raw = block(1000 + ((i * 7919) % 70000), i);
    const quality = [0, 1, 5, 9][i % 4]!;
    const lgwin = raw.length <= 1 << 16 ? 16 : 24;
    const c = def.compress(raw, quality, lgwin);
    assert.ok(c !== undefined && c !== null);
    assert.deepEqual(c, new Uint8Array(sync(raw, quality, lgwin)));
    assert.deepEqual(new Uint8Array(brotliDecompressSync(c)), raw);
  }
});

test('a payload that brotli does not make smaller gives null, and the next block compresses as usual', () => {
  const def = new BlockDeflater();
  assert.equal(def.compress(block(5000, 7, 1), 1, 16), null);
  assert.equal(def.compress(Uint8Array.of(42), 5, 16), null);
  const raw = block(30000, 8);
  assert.deepEqual(def.compress(raw, 1, 16), new Uint8Array(sync(raw, 1, 16)));
});

test('with headroom, the same bytes from that offset on, the bytes before it left to the caller', () => {
  const def = new BlockDeflater();
  for (const [n, quality, headroom] of [
    [30000, 1, 32],
    [200000, 0, 40],
    [5000, 5, 1],
  ] as const) {
    const raw = block(n, n);
    const lgwin = n <= 1 << 16 ? 16 : 24;
    const c = def.compress(raw, quality, lgwin, headroom);
    assert.ok(c !== undefined && c !== null);
    assert.equal(c.byteOffset, headroom);
    assert.deepEqual(c, new Uint8Array(sync(raw, quality, lgwin)));
  }
  // Not smaller: null, as without headroom.
  assert.equal(def.compress(block(5000, 7, 1), 1, 16, 32), null);
});
