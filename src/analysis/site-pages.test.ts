// SitePages: a number per site in pages made at the first non-zero write into one.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PAGE_SHIFT, SitePages } from './site-pages.js';

const PAGE = 1 << PAGE_SHIFT;

test('0 where never set; a page made only by a non-zero write, for its sites alone', () => {
  const v = new SitePages();
  assert.equal(v.get(0), 0);
  assert.equal(v.get(10_000_000), 0);
  v.set(5 * PAGE + 3, 0);
  assert.equal(v.byteLength, 0, 'a 0 written makes no page');
  v.set(5 * PAGE + 3, 2.5);
  v.add(5 * PAGE + 3, 1);
  v.add(1_000_000, -7);
  assert.equal(v.get(5 * PAGE + 3), 3.5);
  assert.equal(v.get(5 * PAGE + 4), 0);
  assert.equal(v.get(1_000_000), -7);
  assert.equal(v.byteLength, 2 * PAGE * 8);
  v.set(5 * PAGE + 3, 0);
  assert.equal(v.get(5 * PAGE + 3), 0);
});

test('a clone is a copy: writes to either leave the other as it was', () => {
  const v = new SitePages();
  v.set(7, 1);
  const c = v.clone();
  c.set(7, 2);
  c.set(3 * PAGE, 4);
  v.set(8, 5);
  assert.deepEqual([v.get(7), v.get(8), v.get(3 * PAGE)], [1, 5, 0]);
  assert.deepEqual([c.get(7), c.get(8), c.get(3 * PAGE)], [2, 0, 4]);
});
