// The heap replay's per-site columns that only some reports need.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeapReplay } from './heap-replay.js';
import type { NativeNodeId1, PyNodeId1, ThreadIndex } from './ids.js';
import { SiteTable } from './site-table.js';

/** 5,000 sites, each one allocation freed right after (malloc then free, thread 0). */
function replayWith(temporaryThreshold: number | undefined): SiteTable {
  const sites = new SiteTable();
  const replay = new HeapReplay(sites, { observer: undefined, temporaryThreshold, window: undefined });
  let seq = 0;
  for (let i = 0; i < 5000; i++) {
    const site = sites.intern((i + 1) as PyNodeId1, 0 as NativeNodeId1, 0 as ThreadIndex, 0);
    replay.eventAddress[0] = 0x10000 + i * 64;
    replay.allocAt(site, 0 as ThreadIndex, seq++, 32, 0);
    replay.freeAt(seq++, 32, 0);
  }
  replay.totals(true, 0);
  return sites;
}

test('the temporary-allocation columns are made only when the replay counts them', () => {
  const without = replayWith(undefined);
  assert.equal(without.columns.tempCount.byteLength + without.columns.tempBytes.byteLength + without.columns.updatedSeq.byteLength, 0);
  const counted = replayWith(1);
  assert.equal(counted.columns.tempCount.array[4999], 1);
  assert.equal(counted.columns.tempBytes.array[0], 32);
  assert.equal(counted.columns.updatedSeq.byteLength, 0);
});

test("the peak marks (4 bytes) start over before the epoch passes 2^31, and a site's value at the peak stays", () => {
  const sites = new SiteTable();
  const replay = new HeapReplay(sites, { observer: undefined, temporaryThreshold: undefined, window: undefined });
  const a = sites.intern(1 as PyNodeId1, 0 as NativeNodeId1, 0 as ThreadIndex, 0);
  const b = sites.intern(2 as PyNodeId1, 0 as NativeNodeId1, 0 as ThreadIndex, 0);
  // As after 2^31 - 2 new peaks (too many events for a test).
  (replay as unknown as { epoch: number }).epoch = 0x7fffffff - 1;
  let seq = 0;
  const alloc = (site: typeof a, address: number, size: number): void => {
    replay.eventAddress[0] = address;
    replay.allocAt(site, 0 as ThreadIndex, seq++, size, 0);
  };
  alloc(a, 0x1000, 100); // a new peak: 100
  alloc(b, 0x2000, 50); // a new peak: 150, a at 100 and b at 50
  replay.eventAddress[0] = 0x1000;
  replay.freeAt(seq++, 100, 0); // a's value at the peak saved
  alloc(a, 0x3000, 10); // a changes again: its saved value stays
  const totals = replay.totals(true, 0);
  assert.equal(totals.peakHeap, 150);
  assert.deepEqual([sites.columns.peakBytes.array[a], sites.columns.peakBytes.array[b], sites.columns.peakCount.array[a]], [100, 50, 1]);
  assert.deepEqual([sites.columns.liveBytes.array[a], sites.columns.liveBytes.array[b]], [10, 50]);
});
