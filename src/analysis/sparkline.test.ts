import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CaptureModel } from '../model/model.js';
import { sparkline } from './sparkline.js';

test('sparkline: the highest value of each slice, carried over empty slices, null before the data', () => {
  const s = (timeNs: number[], heap: number[]): CaptureModel =>
    ({ snapshots: { timeNs, heap, rss: heap.map((h) => h * 2), seq: timeNs, rssAnon: [], rssFile: [], rssShmem: [], swap: [], cgroupUsage: [], cgroupLimit: [] } }) as unknown as CaptureModel;
  // 10 points over 10 s ending at 20 s: slices (10,11], (11,12], … (19,∞).
  const m = s([5e9, 10.5e9, 10.7e9, 13.2e9, 19.5e9], [1, 4, 3, 7, NaN]);
  const sp = sparkline(m, 10, 10e9, 20e9);
  // The heap after 10.7 s is 3: a slice without snapshots shows the last value, not the slice's maximum.
  assert.deepEqual(sp.heap, [4, 3, 3, 7, 7, 7, 7, 7, 7, 7]);
  assert.deepEqual(sp.rss, [8, 6, 6, 14, 14, 14, 14, 14, 14, 14]);
  assert.equal(sp.endNs, 20e9);
  const late = s([15e9], [9]);
  assert.deepEqual(sparkline(late, 4, 8e9, 20e9).heap, [null, 9, 9, 9]);
  assert.deepEqual(sparkline(s([], []), 3, 8e9, 20e9).heap, [null, null, null]);
});
