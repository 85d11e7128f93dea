// The page's payload writer (the only one): what it writes, decodePayload (the viewer's decoder) reads back
// as the data it was written from, whatever the columns hold.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { baseMeta, knownProgram } from '../../../test/support/synthetic-profile.js';
import { prng } from '../../../test/support/prng.js';
import { decodePayload, type ReportData, type VerdictPanel } from './payload.js';
import { PayloadWriter, writePayload } from './payload-writer.js';
import { ReportDataBuilder } from './report-builder.js';

function roundTrip(d: ReportData, what: string): void {
  assert.deepEqual(decodePayload(writePayload(d)), d, what);
}

const VERDICT: VerdictPanel = {
  severity: 'oom',
  headline: 'Killed by the OOM killer — ünïcödé 😀',
  detail: 'oom-kill: constraint=CONSTRAINT_MEMCG </script>',
  facts: [['peak', '1.2 GiB']],
  growthTitle: 'What grew',
  growth: [{ bytes: '600 MiB', count: '3', where: 'zeros (numeric.py:140)' }],
  findings: [{ title: 'A leak', evidence: ['\u2028', 'lone \ud800'], advice: 'free it' }],
  notLookedFor: ['memory that accumulated'],
  census: { title: 'Live objects', note: '', types: [{ type: 'dict', count: '9', bytes: '1 KiB', share: '1 %' }], paths: [], pathsNote: '' },
};

test('the payload decodes to the data it was written from, with and without temporal data', () => {
  roundTrip(knownProgram(), 'temporal');
  roundTrip(knownProgram({ temporal: false }), 'no temporal');
  roundTrip(knownProgram({ meta: { title: 'ünïcödé 😀 </script>', notes: ['\u2028', 'lone \ud800'], startWallMs: null, peakTimeNs: null } }), 'meta');
  roundTrip(knownProgram({ meta: { view: 'leaks', inverted: true, verdict: VERDICT } }), 'verdict');
  const leaks = knownProgram();
  roundTrip({ ...leaks, temporal: leaks.temporal === null ? null : { ...leaks.temporal, kind: 'leaks' } }, 'leaks kind');
});

test('an empty report (the root alone, no snapshots) round-trips', () => {
  roundTrip(new ReportDataBuilder().build(baseMeta({ emptyReason: 'nothing was allocated', cgroupLimitBytes: null })), 'empty');
});

test('long columns and values past 2^53 round-trip', () => {
  const rnd = prng(7);
  const d = knownProgram();
  const n = 70_000; // past the body buffer's first size and the container's
  const big = Float64Array.from({ length: n }, (_, i) => (i % 1000 === 0 ? 2 ** 60 + i * 4096 : Math.floor(rnd() * 2 ** 40)));
  const strings = [...d.strings, ...Array.from({ length: 5000 }, (_, i) => `s${i} ${'é'.repeat(i % 7)}${'😀'.repeat(i % 3)}`)];
  const long: ReportData = {
    ...d,
    strings,
    timeline: { time: big, rss: big.map((v) => v / 2), rssAnon: new Float64Array(n), rssFile: big, heap: big, cgroupUsage: big.map((v) => Math.floor(v / 3)) },
  };
  roundTrip(long, 'long columns');
});

test('the payload writer refuses what it cannot store', () => {
  assert.throws(() => new PayloadWriter().uints('x', [-1]), /not a non-negative integer/);
  assert.throws(() => new PayloadWriter().uints('x', [1.5]), /not a non-negative integer/);
  const w = new PayloadWriter();
  w.uints('x', [1]);
  assert.throws(() => w.uints('x', [1]), /written twice/);
  const d = knownProgram();
  assert.throws(() => writePayload({ ...d, locations: { ...d.locations, bytes: d.locations.bytes.map((v, i) => (i === 0 ? -1 : v)) } }), /not a non-negative integer/);
});
