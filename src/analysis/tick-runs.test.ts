import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Runs } from './tick-runs.js';

test('remapTicks maps every run to coarser ticks, keeps its values, and drops the runs left empty', () => {
  const runs = new Runs();
  runs.push(1, 0, 1, 10, 1); // tick 0 alone: empty once halved
  runs.push(2, 1, 4, 20, 2);
  runs.push(3, 4, 5, 30, 3); // tick 4 alone: empty
  runs.push(4, 5, 9, 40, 4);
  runs.remapTicks((t) => t >> 1);
  const c = runs.columns();
  assert.deepEqual([...c.site], [2, 4]);
  assert.deepEqual([...c.start], [0, 2]);
  assert.deepEqual([...c.end], [2, 4]);
  assert.deepEqual([...c.bytes], [20, 40]);
  assert.deepEqual([...c.count], [2, 4]);
});
