import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from '../../../test/support/prng.js';
import { fmtCount } from './report-data.js';

test('fmtCount writes what toLocaleString(en-US) of the rounded number writes', () => {
  const rnd = prng(3);
  const values = [0, -0, 0.4, -0.4, 0.5, -0.5, 1.5, -1.5, 999, 999.5, 1000, 123456789.49, -1234567, 2 ** 53, 2 ** 64, 1e20, 9.99e20, 1e21, -1e22, NaN, Infinity, -Infinity];
  for (let i = 0; i < 2000; i++) values.push((rnd() - 0.3) * 10 ** Math.floor(rnd() * 22));
  for (const n of values) assert.equal(fmtCount(n), Math.round(n).toLocaleString('en-US'), String(n));
});
