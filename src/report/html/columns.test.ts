import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ColumnWriter, readColumns } from './columns.js';

test('columns round-trip numbers, indices, deltas, strings and JSON', () => {
  const w = new ColumnWriter();
  const big = [0, 1, 127, 128, 2 ** 31, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER];
  w.uints('u', big);
  w.deltas('d', [5, 3, -7, 2 ** 45, -(2 ** 45), 0]);
  w.uints('i', [0, 7, 2 ** 31 - 1], true);
  w.deltas('id', [-1, 4, 3, -1], true);
  const strings = ['', 'plain', 'ünïcödé', '😀 emoji', '\u2028\u2029', 'lone \ud800 surrogate', '</script>'];
  w.strings('s', strings);
  w.json('j', { a: [1, 'x'], b: null });
  const cols = readColumns(w.finish());
  assert.deepEqual(cols.get('u'), Float64Array.from(big));
  assert.deepEqual(cols.get('d'), Float64Array.from([5, 3, -7, 2 ** 45, -(2 ** 45), 0]));
  assert.deepEqual(cols.get('i'), Int32Array.from([0, 7, 2 ** 31 - 1]));
  assert.deepEqual(cols.get('id'), Int32Array.from([-1, 4, 3, -1]));
  // A lone surrogate cannot be UTF-8: it comes back as U+FFFD, and the strings after it stay aligned.
  assert.deepEqual(
    cols.get('s'),
    strings.map((s) => s.replace('\ud800', '\ufffd')),
  );
  assert.deepEqual(cols.get('j'), { a: [1, 'x'], b: null });
});

test('columns refuse values they cannot store and containers they do not know', () => {
  assert.throws(() => new ColumnWriter().uints('x', [-1]), /not a non-negative integer/);
  assert.throws(() => new ColumnWriter().uints('x', [1.5]), /not a non-negative integer/);
  assert.throws(() => new ColumnWriter().uints('x', [NaN]), /not a non-negative integer/);
  assert.throws(() => new ColumnWriter().uints('x', [Infinity]), /not a non-negative integer/);
  const w = new ColumnWriter();
  w.uints('x', [1]);
  assert.throws(() => w.uints('x', [2]), /written twice/);
  assert.throws(() => readColumns(new TextEncoder().encode('NOPE\u0001')), /not a memlens report payload/);
  const bytes = w.finish();
  assert.throws(() => readColumns(bytes.subarray(0, bytes.length - 1)), /ends early/);
  const future = bytes.slice();
  future[4] = 99;
  assert.throws(() => readColumns(future), /version 99/);
});

test('totals at and past 2^53 round-trip exactly, in plain and delta columns', () => {
  // A long run can allocate more than 2^53 bytes in all (src/model/value-bounds.ts): such a double is an
  // integer, and its varint is exact; a delta between two of them would not be, so deltas() writes them plain.
  const big = [0, 2 ** 53 - 1, 2 ** 53, 2 ** 60 + 2 ** 8, 3 * 2 ** 53, 2 ** 64, 1e300, 5];
  const w = new ColumnWriter();
  w.uints('plain', big);
  w.deltas('delta', big);
  w.deltas('small', [5, 3, 2 ** 52, 0]);
  const cols = readColumns(w.finish());
  assert.deepEqual(Array.from(cols.get('plain') as Float64Array), big);
  assert.deepEqual(Array.from(cols.get('delta') as Float64Array), big);
  assert.deepEqual(Array.from(cols.get('small') as Float64Array), [5, 3, 2 ** 52, 0]);
});
