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
