import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from '../../test/support/prng.js';
import { decimate } from './decimate.js';

test('every column holds the min and max of exactly its samples (against brute force)', () => {
  const rnd = prng(7);
  const n = 10_000;
  const time = new Float64Array(n);
  const values = new Float64Array(n);
  let t = 0;
  for (let i = 0; i < n; i++) {
    t += rnd() < 0.1 ? 0 : Math.floor(rnd() * 100);
    time[i] = t;
    values[i] = Math.floor(rnd() * 1e6);
  }
  const t0 = time[100]!;
  const t1 = time[9000]!;
  const cols = 333;
  const d = decimate(time, values, t0, t1, cols);
  for (let c = 0; c < cols; c++) {
    let lo = NaN;
    let hi = NaN;
    let last = NaN;
    for (let i = 0; i < n; i++) {
      if (time[i]! < t0 || time[i]! > t1) continue;
      const col = Math.min(cols - 1, Math.floor(((time[i]! - t0) * cols) / (t1 - t0)));
      if (col !== c) continue;
      if (!(lo <= values[i]!)) lo = values[i]!;
      if (!(hi >= values[i]!)) hi = values[i]!;
      last = values[i]!;
    }
    assert.equal(d.min[c], lo, `min of column ${c}`);
    assert.equal(d.max[c], hi, `max of column ${c}`);
    assert.equal(d.last[c], last, `last of column ${c}`);
  }
});

test('a single spike among a million samples survives decimation', () => {
  const n = 1_000_000;
  const time = Float64Array.from({ length: n }, (_, i) => i);
  const values = new Float64Array(n).fill(1);
  values[654_321] = 999;
  const d = decimate(time, values, 0, n - 1, 800);
  assert.equal(Math.max(...d.max), 999);
  assert.equal(Math.min(...d.min), 1);
});

test('empty ranges and no columns give NaN columns', () => {
  const d = decimate(new Float64Array([1, 2]), new Float64Array([5, 6]), 10, 20, 4);
  assert.ok(Array.from(d.max).every(Number.isNaN));
  assert.equal(decimate(new Float64Array(0), new Float64Array(0), 0, 0, 4).min.length, 4);
});
