// The sites' keys (SiteKeys, site-table.ts): tagged slots, and the slots made again without tags once the
// ids outgrow the bits a tag leaves them.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SiteKeys } from './site-table.js';

const key = (i: number): [number, number, number, number] => [i % 977, (i * 7) % 5, i % 3, i % 16];

test('every site keeps its id across the tags going (past 2^idBits ids) and the doublings', () => {
  const k = new SiteKeys(16, undefined, 5); // 32 ids in tagged slots
  const n = 3000;
  for (let i = 0; i < n; i++) {
    assert.equal(k.intern(...key(i)), i);
    if (i === 31 || i === 32 || i === 33 || i === 500) for (let j = 0; j <= i; j++) assert.equal(k.intern(...key(j)), j, `site ${j} after ${i + 1} ids`);
  }
  for (let i = n - 1; i >= 0; i--) assert.equal(k.intern(...key(i)), i);
  assert.equal(k.count, n);
  assert.deepEqual(
    [0, 1, 2, 3].map((c) => k.get(2999, c)),
    key(2999),
  );
});

test('a copy made before the tags went keeps working after its source lost them, and the other way', () => {
  const a = new SiteKeys(16, undefined, 5);
  for (let i = 0; i < 20; i++) a.intern(...key(i));
  const b = new SiteKeys(16, a);
  for (let i = 20; i < 200; i++) assert.equal(a.intern(...key(i)), i);
  for (let i = 0; i < 20; i++) assert.equal(b.intern(...key(i)), i);
  assert.equal(b.intern(...key(20)), 20);
  assert.equal(b.count, 21);
  const c = new SiteKeys(16, a);
  for (let i = 0; i < 200; i++) assert.equal(c.intern(...key(i)), i);
  assert.equal(c.intern(...key(200)), 200);
});
