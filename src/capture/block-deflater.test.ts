import assert from 'node:assert/strict';
import { test } from 'node:test';
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import { declaredLgwin } from '../../test/support/brotli-window.js';
import { prng } from '../../test/support/prng.js';
import { BlockDeflater, FAST_LGWIN, declareFastWindow, fastWindowHolds } from './block-deflater.js';

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

/** `n` bytes in which runs of 2-12 KiB come back from up to `reach` bytes before them, the rest as block() makes. */
function repeating(n: number, seed: number, reach: number): Uint8Array {
  const rnd = prng(seed);
  const raw = block(n, seed);
  for (let at = 64 << 10; at < n;) {
    const len = Math.min(n - at, 2048 + Math.floor(rnd() * 10240));
    // From len + 16 to `reach` bytes back, without overlapping the run.
    const back = len + 16 + Math.floor(rnd() * (Math.min(at, reach) - len - 16));
    raw.copyWithin(at, at - back, at - back + len);
    at += len + Math.floor(rnd() * 4096);
  }
  return raw;
}

test("the fast qualities' streams declared with a window of 2^18 read back the same bytes, copies from far back included", () => {
  const def = new BlockDeflater();
  // A 1 MiB payload with copies from up to 1 MiB back: compressed with a window of 2^24 and declared 2^18.
  for (const quality of [0, 1]) {
    assert.ok(fastWindowHolds(quality, 24));
    const raw = repeating(1 << 20, quality + 3, 1 << 20);
    const c = def.compress(raw, quality, 24);
    assert.ok(c !== undefined && c !== null);
    const wide = c.slice();
    assert.equal(declaredLgwin(wide), 24);
    assert.ok(declareFastWindow(c, 24));
    assert.equal(declaredLgwin(c), FAST_LGWIN);
    // Only the window bits changed, and the stream is read the same through a ring of 2^18.
    assert.deepEqual(c.subarray(1), wide.subarray(1));
    assert.equal(c[0]! & 0xf0, wide[0]! & 0xf0);
    assert.deepEqual(new Uint8Array(brotliDecompressSync(c)), raw);
    // And it keeps what the wide window's fragment found: compressed with 2^18 it is larger (quality 0).
    if (quality === 0) assert.ok(sync(raw, 0, 18).length > c.length, `${sync(raw, 0, 18).length} against ${c.length}`);
  }
});

test('a stream of quality 2 or more, or of another window, keeps the window it was compressed with', () => {
  assert.ok(!fastWindowHolds(2, 24) && !fastWindowHolds(5, 24) && !fastWindowHolds(0, 16) && !fastWindowHolds(0, 18));
  // A copy from 512 KiB back, which a quality 5 stream makes: declared 2^18 it would not read back.
  const raw = repeating(1 << 20, 9, 1 << 20);
  const c = new Uint8Array(sync(raw, 5, 24));
  assert.ok(declareFastWindow(c, 24));
  assert.notDeepEqual(tryDecompress(c), raw);
  // declareFastWindow changes nothing where the first bits do not say the window it was told.
  const small = new Uint8Array(sync(block(30000, 4), 1, 16));
  const before = small.slice();
  assert.equal(declareFastWindow(small, 24), false);
  assert.deepEqual(small, before);
});

function tryDecompress(c: Uint8Array): Uint8Array | undefined {
  try {
    return new Uint8Array(brotliDecompressSync(c));
  } catch {
    return undefined;
  }
}
