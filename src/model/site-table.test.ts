// The site table: keys interned into dense ids, in 16 bytes a site.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NativeNodeId1, PyNodeId1, ThreadIndex } from './ids.js';
import { MarkColumn, SITE_COLUMNS, SiteColumn, SiteTable } from './site-table.js';

const key = (i: number): [PyNodeId1, NativeNodeId1, ThreadIndex, number] => [(i * 7 + 1) as PyNodeId1, (i % 3) as NativeNodeId1, (i % 5) as ThreadIndex, i % 4];

test('sites get dense ids in order of first appearance, and give their keys back', () => {
  const t = new SiteTable();
  const n = 20_000;
  for (let i = 0; i < n; i++) assert.equal(t.intern(...key(i)), i);
  for (let i = n - 1; i >= 0; i--) assert.equal(t.intern(...key(i)), i); // known: the same id
  assert.equal(t.size, n);
  for (const i of [0, 1, 4095, 4096, 19_999]) {
    const [py, native, thread, allocator] = key(i);
    assert.deepEqual([t.pyStack(i as never), t.nativeStack(i as never), t.thread(i as never), t.allocator(i as never)], [py, native, thread, allocator]);
  }
  // The largest node id a key can hold, and one past it refused rather than cut.
  assert.equal(t.intern(0x7fffffff as PyNodeId1, 0 as NativeNodeId1, 0 as ThreadIndex, 0), n);
  assert.equal(t.pyStack(n as never), 0x7fffffff);
  assert.throws(() => t.intern(0x80000000 as PyNodeId1, 0 as NativeNodeId1, 0 as ThreadIndex, 0), RangeError);
});

test('a clone is independent: the same ids, its own new sites and columns', () => {
  const t = new SiteTable();
  for (let i = 0; i < 5000; i++) t.intern(...key(i));
  t.columns.totalBytes.array[3] = 42;
  const c = t.clone();
  assert.equal(c.intern(...key(3)), 3);
  assert.equal(c.columns.totalBytes.array[3], 42);
  assert.equal(c.intern(...key(5000)), 5000);
  assert.equal(t.size, 5000);
  assert.equal(t.intern(...key(5001)), 5000);
  assert.deepEqual([c.pyStack(5000 as never), t.pyStack(5000 as never)], [key(5000)[0], key(5001)[0]]);
});

test('a site costs 16 bytes of key and 2 slots of index beside its columns (Int32, not Float64)', () => {
  // call_sites at 5 % of its size has 1.18 M sites: 32 bytes of key a site was 64 MiB (docs/benchmarks.md, round eighteen).
  const t = new SiteTable();
  const n = 100_000;
  for (let i = 0; i < n; i++) t.intern(...key(i));
  const capacity = 131_072; // doubling from 4,096
  const columns = (SITE_COLUMNS.length - 3) * capacity * 8; // the three on-demand columns hold nothing (below)
  // The replay's peak marks: 4 bytes a site (docs/benchmarks.md, round twenty-one).
  assert.equal(t.peakMarks.byteLength, capacity * 4);
  assert.ok(t.byteLength - columns - capacity * 4 <= capacity * 16 + 2 * capacity * 2 * 4, `${t.byteLength - columns} bytes of keys`);
});

test('tempCount, tempBytes and updatedSeq are made only when asked for, then cover every site', () => {
  // 24 bytes a site that a report on an event capture never reads (docs/benchmarks.md, round nineteen).
  const t = new SiteTable();
  const n = 10_000;
  for (let i = 0; i < n; i++) t.intern(...key(i));
  const capacity = 16_384; // doubling from 4,096
  for (const name of ['tempCount', 'tempBytes', 'updatedSeq'] as const) assert.equal(t.columns[name].byteLength, 0, name);
  // A clone of a table whose column was never asked for still holds nothing for it.
  assert.equal(t.clone().columns.tempCount.byteLength, 0);
  const temp = t.columns.tempCount.array;
  assert.equal(temp.length, capacity);
  assert.ok(temp.every((v) => v === 0));
  temp[n - 1] = 5;
  // Made: it grows with the table from now on, and a clone copies it.
  for (let i = n; i < 20_000; i++) t.intern(...key(i));
  assert.equal(t.columns.tempCount.array.length, 32_768);
  assert.equal(t.columns.tempCount.array[n - 1], 5);
  assert.equal(t.clone().columns.tempCount.array[n - 1], 5);
  assert.equal(t.columns.tempBytes.byteLength, 0);
  assert.equal(t.columns.updatedSeq.array.length, 32_768);
});

test('past a million entries a column grows in place: the same array, its values kept, no copy left behind', () => {
  // A copy at each doubling left the old array as garbage beside the new one: on call_sites the doubling from
  // 2 M to 4 M sites was summary's peak, seven 16 MiB columns twice over (docs/benchmarks.md, round twenty-one).
  const million = 1 << 20;
  const col = new SiteColumn(4096);
  const marks = new MarkColumn();
  col.ensure(million);
  marks.ensure(million);
  col.array[5] = 2.5;
  marks.array[million - 1] = 9;
  // Up to a million a plain array, copied as it doubles; one past it, a copy on a buffer that grows in place.
  col.ensure(million + 1);
  marks.ensure(million + 1);
  const grown = col.array;
  const grownMarks = marks.array;
  assert.deepEqual([grown.length, grown[5], grownMarks.length, grownMarks[million - 1]], [2 * million, 2.5, 2 * million, 9]);
  grown[2 * million - 1] = 4;
  col.ensure(4 * million + 1);
  marks.ensure(4 * million + 1);
  assert.equal(col.array, grown);
  assert.equal(marks.array, grownMarks);
  assert.deepEqual([grown.length, grown[5], grown[2 * million - 1], grown[8 * million - 1], grownMarks.length, grownMarks[million - 1]], [8 * million, 2.5, 4, 0, 8 * million, 9]);
  // A clone's column is its own, and grows in place in turn.
  const c = col.clone();
  const cloned = c.array;
  assert.notEqual(cloned, grown);
  cloned[5] = 7;
  assert.equal(grown[5], 2.5);
  c.ensure(9 * million);
  assert.equal(c.array, cloned);
  assert.deepEqual([cloned.length, cloned[5]], [16 * million, 7]);
  const m = new MarkColumn(marks);
  m.ensure(9 * million);
  assert.deepEqual([m.array.length, m.array[million - 1], marks.array.length], [16 * million, 9, 8 * million]);
});

test('a column made from a plain array grows by a copy, and in place once past a million entries', () => {
  const col = new SiteColumn(Float64Array.of(1, 2, 3));
  col.ensure(5);
  assert.deepEqual([...col.array], [1, 2, 3, 0, 0, 0]);
  col.ensure((1 << 20) + 1);
  const grown = col.array;
  col.ensure(1 << 22);
  assert.equal(col.array, grown);
  assert.deepEqual([grown.length, grown[2], grown[(1 << 22) - 1]], [6 << 20, 3, 0]); // doubling from 6
});
