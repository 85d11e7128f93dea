// The page's payload writer makes encodePayload's bytes (payload.ts), whatever the columns hold.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { knownProgram } from '../../../test/support/synthetic-profile.js';
import { prng } from '../../../test/support/prng.js';
import { encodePayload, type ReportData } from './payload.js';
import { PayloadWriter, writePayload } from './payload-writer.js';

function same(d: ReportData, what: string): void {
  assert.deepEqual(writePayload(d), encodePayload(d), what);
}

test('the payload writer writes encodePayload’s bytes, with and without temporal data', () => {
  same(knownProgram(), 'temporal');
  same(knownProgram({ temporal: false }), 'no temporal');
  same(knownProgram({ meta: { title: 'ünïcödé 😀 </script>', notes: ['\u2028', 'lone \ud800'] } }), 'meta');
});

test('the payload writer writes encodePayload’s bytes for long columns and values past 2^53', () => {
  const rnd = prng(7);
  const d = knownProgram();
  const n = 70_000; // past the body buffer's first size and the container's
  const big = Float64Array.from({ length: n }, (_, i) => (i % 1000 === 0 ? 2 ** 60 + i * 4096 : Math.floor(rnd() * 2 ** 40)));
  const strings = [...d.strings, ...Array.from({ length: 5000 }, (_, i) => `s${i} ${'é'.repeat(i % 7)}`)];
  const long: ReportData = {
    ...d,
    strings,
    timeline: { time: big, rss: big.map((v) => v / 2), rssAnon: new Float64Array(n), rssFile: big, heap: big, cgroupUsage: new Float64Array(0) },
  };
  same(long, 'long columns');
});

test('the payload writer refuses what ColumnWriter refuses', () => {
  assert.throws(() => new PayloadWriter().uints('x', [-1]), /not a non-negative integer/);
  assert.throws(() => new PayloadWriter().uints('x', [1.5]), /not a non-negative integer/);
  const w = new PayloadWriter();
  w.uints('x', [1]);
  assert.throws(() => w.uints('x', [1]), /written twice/);
});
