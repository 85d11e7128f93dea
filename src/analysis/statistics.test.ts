import assert from 'node:assert/strict';
import { test } from 'node:test';
import { histogramBins } from './statistics.js';

test('histogram bins cover the used power-of-two buckets, merged evenly to at most maxBins', () => {
  const b = new Float64Array(66);
  b[1] = 5; // 1 B
  b[4] = 2; // 8..15 B
  b[21] = 1; // 1..2 MiB
  assert.deepEqual(histogramBins(b, 100)[0], { minBytes: 1, maxBytes: 1, count: 5 });
  assert.equal(histogramBins(b, 100).length, 21);
  const merged = histogramBins(b, 5);
  assert.equal(merged.length, 5);
  assert.deepEqual(merged[0], { minBytes: 1, maxBytes: 31, count: 7 });
  assert.equal(
    merged.reduce((n, x) => n + x.count, 0),
    8,
  );
  assert.equal(merged[merged.length - 1]?.maxBytes, 2 * 1048576 - 1);
  assert.deepEqual(histogramBins(new Float64Array(66), 10), []);
});
