// Growth of the model's columns, and the interner's ids through it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SiteColumn } from './site-table.js';
import { TupleInterner, grownCapacity } from './tuple-interner.js';

test('columns double up to 2^20 entries, then grow by a quarter: at most 1.25x what they hold past it', () => {
  assert.equal(grownCapacity(1024, 1025), 2048);
  assert.equal(grownCapacity(4096, 600_000), 1 << 20);
  assert.equal(grownCapacity(1 << 20, (1 << 20) + 1), 1_310_720);
  assert.equal(grownCapacity(0, 3), 16);
  for (const n of [1_181_750, 2_621_788, 9_000_001]) {
    const cap = grownCapacity(4096, n);
    assert.ok(cap >= n && cap <= n * 1.25 + 1024 && cap % 1024 === 0, `${n} -> ${cap}`);
  }
  // call_sites at 5 % of its size: 1.18 M sites, in columns of 2 M when they doubled (docs/benchmarks.md, round eighteen).
  const column = new SiteColumn(4096);
  column.ensure(1_181_750);
  assert.ok(column.array.length <= 1_181_750 * 1.25, `${column.array.length}`);
});

test('ids and components survive the values growing by a quarter', () => {
  const t = new TupleInterner(3, 16);
  const n = (1 << 20) + 300_000;
  for (let i = 0; i < n; i++) assert.equal(t.intern(i, i * 3 + 2 ** 40, i % 7), i);
  assert.equal(t.size, n);
  for (const i of [0, 17, 1 << 20, n - 1]) {
    assert.deepEqual([t.get(i, 0), t.get(i, 1), t.get(i, 2)], [i, i * 3 + 2 ** 40, i % 7]);
    assert.equal(t.intern(i, i * 3 + 2 ** 40, i % 7), i);
  }
  assert.ok(t.byteLength < n * 3 * 8 * 1.25 + 4 * 4 * n + 1e6, `${t.byteLength}`);
});
