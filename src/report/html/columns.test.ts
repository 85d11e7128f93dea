// columns.ts's container, written by payload-writer.ts's PayloadWriter (the only writer) and read back by
// readColumns (the viewer's decoder): every column kind, empty columns, edge values, the refusals.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readColumns } from './columns.js';
import { PayloadWriter } from './payload-writer.js';

test('columns round-trip numbers, indices, deltas, strings and JSON', () => {
  const w = new PayloadWriter();
  const big = [0, 1, 127, 128, 2 ** 31, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER];
  w.uints('u', big);
  w.deltas('d', [5, 3, -7, 2 ** 45, -(2 ** 45), 0]);
  w.uints('i', [0, 7, 2 ** 31 - 1], true);
  w.deltas('id', [-1, 4, 3, -1, -(2 ** 31), 2 ** 31 - 1], true);
  const strings = ['', 'plain', 'ünïcödé', '😀 emoji', '\u2028\u2029', 'lone \ud800 surrogate', '</script>', '', '日本語'];
  w.strings('s', strings);
  w.json('j', { a: [1, 'x', -2.5, 'ü😀\ud800'], b: null });
  w.json('js', 'peak');
  const cols = readColumns(w.view());
  assert.deepEqual(cols.get('u'), Float64Array.from(big));
  assert.deepEqual(cols.get('d'), Float64Array.from([5, 3, -7, 2 ** 45, -(2 ** 45), 0]));
  assert.deepEqual(cols.get('i'), Int32Array.from([0, 7, 2 ** 31 - 1]));
  assert.deepEqual(cols.get('id'), Int32Array.from([-1, 4, 3, -1, -(2 ** 31), 2 ** 31 - 1]));
  // A lone surrogate cannot be UTF-8: it comes back as U+FFFD, and the strings after it stay aligned.
  assert.deepEqual(
    cols.get('s'),
    strings.map((s) => s.replace('\ud800', '\ufffd')),
  );
  // In JSON it is an escape (\ud800), so it comes back as it was.
  assert.deepEqual(cols.get('j'), { a: [1, 'x', -2.5, 'ü😀\ud800'], b: null });
  assert.equal(cols.get('js'), 'peak');
  assert.deepEqual([...cols.keys()], ['u', 'd', 'i', 'id', 's', 'j', 'js']);
});

test('empty columns round-trip, each of its kind', () => {
  const w = new PayloadWriter();
  w.uints('u', []);
  w.uints('i', [], true);
  w.deltas('d', []);
  w.deltas('id', new Int32Array(0), true);
  w.strings('s', []);
  w.strings('s1', ['']);
  w.json('j', []);
  const cols = readColumns(w.view());
  assert.deepEqual(cols.get('u'), new Float64Array(0));
  assert.deepEqual(cols.get('i'), new Int32Array(0));
  assert.deepEqual(cols.get('d'), new Float64Array(0));
  assert.deepEqual(cols.get('id'), new Int32Array(0));
  assert.deepEqual(cols.get('s'), []);
  assert.deepEqual(cols.get('s1'), ['']);
  assert.deepEqual(cols.get('j'), []);
});

test('the container is the format columns.ts describes, to the byte', () => {
  // magic "MLHP", version 1; then per column: kind, name (length + UTF-8), count, body length, body.
  const w = new PayloadWriter();
  w.uints('u', [0, 127, 128, 300]);
  w.deltas('d', [5, 3, -1]);
  w.strings('s', ['é', 'ab']);
  w.json('j', 1);
  const head = [0x4d, 0x4c, 0x48, 0x50, 1];
  const u = [1, 1, 0x75, 4, 6, 0, 127, 0x80, 1, 0xac, 2];
  // 5 → 10; 3 - 5 = -2 → 3; -1 - 3 = -4 → 7
  const d = [2, 1, 0x64, 3, 3, 10, 3, 7];
  // UTF-16 lengths 1 and 2, then 'éab' as UTF-8 (c3 a9 61 62)
  const s = [5, 1, 0x73, 2, 6, 1, 2, 0xc3, 0xa9, 0x61, 0x62];
  const j = [6, 1, 0x6a, 1, 1, 0x31];
  assert.deepEqual(Array.from(w.view()), [...head, ...u, ...d, ...s, ...j]);
});

test('a container that outgrows its first buffers round-trips', () => {
  const w = new PayloadWriter(1);
  const n = 50_000;
  const up = Float64Array.from({ length: n }, (_, i) => i * 1_000_003);
  const zigzag = Int32Array.from({ length: n }, (_, i) => (i % 2 === 0 ? i : -i));
  const strings = Array.from({ length: 3000 }, (_, i) => `${'😀'.repeat(i % 5)}s${i}é`);
  w.deltas('up', up);
  w.deltas('zigzag', zigzag, true);
  w.uints('small', [1, 2, 3]);
  w.strings('s', strings);
  const cols = readColumns(w.view());
  assert.deepEqual(cols.get('up'), up);
  assert.deepEqual(cols.get('zigzag'), zigzag);
  assert.deepEqual(cols.get('small'), Float64Array.from([1, 2, 3]));
  assert.deepEqual(cols.get('s'), strings);
});

test('columns refuse values they cannot store and containers they do not know', () => {
  assert.throws(() => new PayloadWriter().uints('x', [-1]), /not a non-negative integer/);
  assert.throws(() => new PayloadWriter().uints('x', [1.5]), /not a non-negative integer/);
  assert.throws(() => new PayloadWriter().uints('x', [NaN]), /not a non-negative integer/);
  assert.throws(() => new PayloadWriter().uints('x', [Infinity]), /not a non-negative integer/);
  assert.throws(() => new PayloadWriter().deltas('x', [0.5]), /not a non-negative integer/);
  const w = new PayloadWriter();
  w.uints('x', [1]);
  assert.throws(() => w.uints('x', [2]), /written twice/);
  assert.throws(() => w.strings('x', ['']), /written twice/);
  assert.throws(() => readColumns(new TextEncoder().encode('NOPE\u0001')), /not a memlens report payload/);
  const bytes = w.view().slice();
  assert.throws(() => readColumns(bytes.subarray(0, bytes.length - 1)), /ends early/);
  const future = bytes.slice();
  future[4] = 99;
  assert.throws(() => readColumns(future), /version 99/);
  const unknown = bytes.slice();
  unknown[5] = 9;
  assert.throws(() => readColumns(unknown), /column 'x' has unknown kind 9/);
});

test('totals at and past 2^53 round-trip exactly, in plain and delta columns', () => {
  // A long run can allocate more than 2^53 bytes in all (src/model/value-bounds.ts): such a double is an
  // integer, and its varint is exact; a delta between two of them would not be, so deltas() writes them plain.
  const big = [0, 2 ** 53 - 1, 2 ** 53, 2 ** 60 + 2 ** 8, 3 * 2 ** 53, 2 ** 64, 1e300, Number.MAX_VALUE, 5];
  const w = new PayloadWriter();
  w.uints('plain', big);
  w.deltas('delta', big);
  w.deltas('small', [5, 3, 2 ** 52, 0]);
  w.deltas('edge', [2 ** 52 - 1, 0, -(2 ** 52 - 1), 0]);
  const cols = readColumns(w.view());
  assert.deepEqual(Array.from(cols.get('plain') as Float64Array), big);
  assert.deepEqual(Array.from(cols.get('delta') as Float64Array), big);
  assert.deepEqual(Array.from(cols.get('small') as Float64Array), [5, 3, 2 ** 52, 0]);
  assert.deepEqual(Array.from(cols.get('edge') as Float64Array), [2 ** 52 - 1, 0, -(2 ** 52 - 1), 0]);
});
