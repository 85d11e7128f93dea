// RecentGrowth's memory per site when the replay's live columns are shared with it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SiteId } from '../model/ids.js';
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

test('the values saved for the window before the last change are kept only through a quiet end', () => {
  // 20 bytes a site (docs/benchmarks.md, round nineteen): a program busy to its end never needs them.
  const sites = 50_000;
  const busy = new RecentGrowth(5e9);
  for (let t = 1; t <= 20; t++) {
    for (let site = 0; site < sites; site += 1) busy.change(site as SiteId, t, 8, 1);
    busy.snapshot(t * sites, t * 1e9); // a change before every snapshot: each fold's saves would be dropped
  }
  const capacity = 65_536; // doubling from 1,024
  assert.ok(busy.byteLength <= capacity * (4 * 8 + 1), `${busy.byteLength} bytes`);
  assert.equal(busy.finish().beforeLastChange?.baseBytes[0], 15 * 8);

  // Growth until 10 s, then nothing but snapshots to 30 s: the window before the last change (ending at the
  // snapshot after it, 10 s) keeps its baseline (5 s) while the folds move the other one to the end.
  const quiet = new RecentGrowth(5e9);
  for (let t = 1; t <= 30; t++) {
    if (t <= 10) for (let site = 0; site < 1000; site++) quiet.change(site as SiteId, t, 8, 1);
    quiet.snapshot(t * 1000, t * 1e9);
  }
  const r = quiet.finish();
  assert.equal(r.lastChangeNs, 10e9);
  assert.equal(r.baseBytes[999], 10 * 8);
  assert.equal(r.beforeLastChange?.fromNs, 5e9);
  assert.equal(r.beforeLastChange?.baseBytes[999], 5 * 8);
  assert.ok(quiet.byteLength > 1000 * 20, 'saved columns made');
});

test('folded ticks are let go as they are folded, not 1024 of them later', () => {
  // A window of 5 s holds at most 101 ticks of 50 ms; the array of ticks was sliced only 1024 folds later.
  const sites = 1000;
  const g = new RecentGrowth(5e9);
  for (let t = 1; t <= 600; t++) {
    for (let site = 0; site < sites; site++) g.change(site as SiteId, t, 8, 1);
    g.snapshot(t * sites, t * 50e6);
  }
  const perTick = sites * 20;
  assert.ok(g.ticksByteLength <= 102 * perTick, `${g.ticksByteLength} bytes held in ticks`);
  assert.equal(g.finish().baseBytes[0], (600 - 100) * 8);
});
