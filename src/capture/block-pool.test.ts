import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from '../../test/support/prng.js';
import { BlockPool, type Slab } from './block-pool.js';

function bytes(n: number, seed: number): Uint8Array {
  const rnd = prng(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

test('copies stay intact until released, in any order, while slabs are used again', () => {
  const pool = new BlockPool();
  const rnd = prng(7);
  const held: { copy: Uint8Array; want: Uint8Array; slab: Slab | undefined }[] = [];
  const buffers = new Set<ArrayBufferLike>();
  for (let i = 0; i < 3000; i++) {
    const want = bytes(1 + Math.floor(rnd() * 9000), i);
    const source = want.slice();
    const copy = pool.copy(source);
    source.fill(0); // the caller's buffer is reused for the next block
    held.push({ copy, want, slab: pool.lastSlab });
    buffers.add(copy.buffer);
    // Release a random few of those held (an orderer's release decodes them in its own order).
    while (held.length > 40 || (held.length > 0 && rnd() < 0.4)) {
      const [h] = held.splice(Math.floor(rnd() * held.length), 1);
      assert.deepEqual(h!.copy, h!.want);
      pool.release(h!.slab);
    }
  }
  for (const h of held) assert.deepEqual(h.copy, h.want);
  // About 15 MiB went through; at most ~40 blocks (360 KiB) were held at once.
  assert.ok(buffers.size <= 8, `${buffers.size} slabs`);
});

test('a large block gets a buffer of its own', () => {
  const pool = new BlockPool();
  const big = bytes(200 << 10, 1);
  const copy = pool.copy(big);
  assert.equal(pool.lastSlab, undefined);
  assert.deepEqual(copy, big);
  assert.notEqual(copy.buffer, big.buffer);
  pool.release(undefined);
});
