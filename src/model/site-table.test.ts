// The site table: keys interned into dense ids, in 16 bytes a site.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NativeNodeId1, PyNodeId1, ThreadIndex } from './ids.js';
import { SITE_COLUMNS, SiteColumn, SiteTable } from './site-table.js';

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

test('a column grows in place: the same array, its values kept, no copy left behind', () => {
  // A copy at each doubling left the old array as garbage beside the new one: on call_sites the doubling from
  // 2 M to 4 M sites was summary's peak, seven 16 MiB columns twice over (docs/benchmarks.md, round twenty-one).
  const t = new SiteTable();
  for (let i = 0; i < 4096; i++) t.intern(...key(i));
  const before = SITE_COLUMNS.filter((name) => name !== 'tempCount' && name !== 'tempBytes' && name !== 'updatedSeq').map((name) => t.columns[name].array);
  before[0]![4095] = 7;
  before[1]![0] = 3.5;
  for (let i = 4096; i < 100_000; i++) t.intern(...key(i));
  const after = SITE_COLUMNS.filter((name) => name !== 'tempCount' && name !== 'tempBytes' && name !== 'updatedSeq').map((name) => t.columns[name].array);
  after.forEach((a, i) => {
    assert.equal(a, before[i], SITE_COLUMNS[i]);
    assert.equal(a.length, 131_072);
  });
  assert.deepEqual([after[0]![4095], after[1]![0], after[0]![99_999]], [7, 3.5, 0]);
  const marks = t.peakMarks.array;
  marks[5] = 9;
  // A clone's columns are its own, and grow in place in turn.
  const c = t.clone();
  const cloned = c.columns.totalCount.array;
  assert.notEqual(cloned, t.columns.totalCount.array);
  assert.equal(cloned[4095], 7);
  cloned[4095] = 8;
  assert.equal(t.columns.totalCount.array[4095], 7);
  for (let i = 100_000; i < 140_000; i++) c.intern(...key(i));
  assert.equal(c.columns.totalCount.array, cloned);
  assert.deepEqual([cloned.length, cloned[4095]], [262_144, 8]);
  assert.deepEqual([c.peakMarks.array.length, c.peakMarks.array[5], t.peakMarks.array], [262_144, 9, marks]);
});

test('a column made from a plain array grows by a copy, then in place', () => {
  const col = new SiteColumn(Float64Array.of(1, 2, 3));
  col.ensure(5);
  const grown = col.array;
  assert.deepEqual([...grown], [1, 2, 3, 0, 0, 0]);
  col.ensure(20);
  assert.equal(col.array, grown);
  assert.deepEqual([col.array.length, col.array[2], col.array[19]], [24, 3, 0]);
});
