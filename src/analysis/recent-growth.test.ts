// RecentGrowth's memory per site when the replay's live columns are shared with it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecentGrowth } from './recent-growth.js';
import { allocateInSharedColumns } from '../../test/support/shared-live-columns.js';

test("with the replay's live columns shared, no own live columns grow: 37 bytes a site, not 53", () => {
  // call_sites at 5 % of its size has 1.18 M sites (docs/benchmarks.md, round eighteen).
  const sites = 100_000;
  const g = new RecentGrowth(5e9);
  allocateInSharedColumns(g, sites, 8);
  g.snapshot(sites + 1, 1e9);
  g.snapshot(sites + 2, 7e9); // folds the first tick into the baseline
  const capacity = 131_072; // doubling from 1,024
  assert.ok(g.byteLength <= capacity * 37 + 2 * 1024 * 8, `${g.byteLength} bytes`);
  const r = g.finish();
  assert.equal(r.baseBytes[99_999], 8);
});
