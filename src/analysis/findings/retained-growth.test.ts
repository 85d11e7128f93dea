// The floor of a series: an accumulation, a sawtooth, a plateau, steps, and the edge cases.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { programClock } from '../memlens-pauses.js';
import { PACE_RATIO, PACE_SPLITS, retainedGrowth, retainedGrowthOn } from './retained-growth.js';

const times = (n: number): number[] => Array.from({ length: n }, (_, k) => (k + 1) * 100);

test('an accumulation raises its floor at every sample, in both halves', () => {
  const g = retainedGrowth(times(8), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.ok(g !== undefined);
  assert.deepEqual([g.fromNs, g.toNs, g.bytes, g.rises, g.samples, g.lastRiseNs], [0, 800, 8, 8, 8, 800]);
  assert.equal(g.largestRiseShare, 1 / 8);
  assert.equal(g.firstHalfShare, 4 / 8);
  assert.equal(g.secondHalfShare, 4 / 8);
});

test('the interval that holds the mid-point splits its rise between the halves in proportion to time', () => {
  // A slow start: 1 by 100 ns, then 4 more by 300 ns. The mid-point (150 ns) is a quarter into the second
  // interval: a quarter of its 4 counts in the first half (taking the sample at its end, none would).
  const g = retainedGrowth([100, 300], [1, 5]);
  assert.ok(g !== undefined);
  assert.equal(g.firstHalfShare, 2 / 5);
  assert.equal(g.secondHalfShare, 3 / 5);
});

test('the first half as it would be had the part before the middle gone PACE_RATIO times slower or faster', () => {
  // Nothing until 400 ns, then 1 a sample to 800 ns: it starts to matter at 400 ns (the sample before its
  // first value), so the climb fills the window, evenly: a quarter, half and three quarters of it before
  // the split at a quarter (the part before it 3 times slower), the middle, three quarters (3 times faster).
  const g = retainedGrowth(times(8), [0, 0, 0, 0, 1, 2, 3, 4]);
  assert.ok(g !== undefined);
  assert.deepEqual(PACE_SPLITS, [1 / (1 + PACE_RATIO), PACE_RATIO / (1 + PACE_RATIO)]);
  assert.equal(g.fromNs, 400);
  assert.deepEqual([g.firstHalfShare, ...g.firstShareAtPace], [2 / 4, 1 / 4, 3 / 4]);
  const late = retainedGrowth(times(8), [1, 1, 1, 1, 2, 3, 4, 5]);
  assert.ok(late !== undefined);
  // From 0: the climb starts at 400 ns, the middle of the window; the first sample's 1 in every first part.
  assert.deepEqual([late.firstHalfShare, ...late.firstShareAtPace], [1 / 5, 1 / 5, 3 / 5]);
});

test('a sawtooth keeps its floor at zero until its last round', () => {
  const g = retainedGrowth(times(8), [5, 0, 5, 0, 5, 0, 3, 5]);
  assert.ok(g !== undefined);
  assert.equal(g.bytes, 5);
  assert.equal(g.firstHalfShare, 0);
  assert.deepEqual([g.rises, g.lastRiseNs], [2, 800]);
});

test('a plateau raises it once, at the start', () => {
  const g = retainedGrowth(times(8), [8, 8, 8, 8, 8, 8, 8, 8]);
  assert.ok(g !== undefined);
  assert.deepEqual([g.bytes, g.rises, g.largestRiseShare, g.secondHalfShare, g.lastRiseNs], [8, 1, 1, 0, 100]);
});

test('what is freed later is not kept: the floor is the least held from then on', () => {
  // 10 held for a while, then 4 of it given back: only 6 was kept, from the first sample.
  const g = retainedGrowth(times(4), [10, 10, 6, 6]);
  assert.ok(g !== undefined);
  assert.deepEqual([g.bytes, g.rises], [6, 1]);
});

test('the series starts to matter at its first value (a line used only late in the run)', () => {
  const g = retainedGrowth(times(6), [0, 0, 0, 2, 4, 6]);
  assert.ok(g !== undefined);
  assert.deepEqual([g.fromNs, g.toNs, g.bytes, g.rises, g.samples], [300, 600, 6, 3, 3]);
});

test('nothing held, or nothing kept', () => {
  assert.equal(retainedGrowth([], []), undefined);
  assert.equal(retainedGrowth(times(3), [0, 0, 0]), undefined);
  const freed = retainedGrowth(times(3), [4, 4, 0]);
  assert.deepEqual([freed?.bytes, freed?.rises], [0, 0]);
});

test('rises below half a percent of the whole are noise', () => {
  const g = retainedGrowth(times(3), [1000, 1002, 2000]);
  assert.deepEqual([g?.bytes, g?.rises], [2000, 2]);
});

test("memlens's own pause (a census) is cut out of the program's clock: it is not a stall of the program", () => {
  // A climb of 100 ns steps to 600 ns, memlens holds the program still from 600 to 1,400 ns (the samples
  // meanwhile see nothing new), then the climb goes on for two more steps. On the real clock most of the
  // second half is the pause: the climb looks as if it had stopped; on the program's clock it is even.
  const t = [100, 200, 300, 400, 500, 600, 1000, 1400, 1500, 1600];
  const v = [1, 2, 3, 4, 5, 6, 6, 6, 7, 8];
  const real = retainedGrowth(t, v);
  assert.ok(real !== undefined);
  assert.equal(real.secondHalfShare, 2 / 8, 'the real clock: after its mid-point (800 ns) only the last two steps');
  const g = retainedGrowthOn(programClock([{ fromNs: 600, toNs: 1400 }]), t, v);
  assert.ok(g !== undefined);
  assert.deepEqual([g.fromNs, g.toNs, g.lastRiseNs, g.pausedNs, g.bytes], [0, 1600, 1600, 800, 8]);
  assert.equal(g.firstHalfShare, 4 / 8);
  assert.equal(g.secondHalfShare, 4 / 8);
});

test("the largest rise's allocations, as big as the others' or bigger, from the floor of the live count", () => {
  // 10 bytes an allocation throughout, 4 of the 8 kept at once (2 more were a temporary, in neither part): as big as the rest.
  const burst = retainedGrowth(times(4), [20, 40, 100, 80], Infinity, undefined, [2, 4, 10, 8]);
  assert.deepEqual([burst!.bytes, burst!.largestRiseShare, burst!.largestRiseSizeRatio], [80, 0.5, 1]);
  // One allocation of 60 amid 2 of 10: six times as big.
  const load = retainedGrowth(times(4), [10, 20, 80, 80], Infinity, undefined, [1, 2, 3, 3]);
  assert.equal(load!.largestRiseSizeRatio, 6);
  // A buffer grown by realloc keeps one allocation: nothing known of sizes. Without counts, nothing either.
  assert.equal(retainedGrowth(times(4), [10, 20, 80, 90], Infinity, undefined, [1, 1, 1, 1])!.largestRiseSizeRatio, undefined);
  assert.equal(retainedGrowth(times(4), [10, 20, 80, 90])!.largestRiseSizeRatio, undefined);
});

test('a climb sampled densely rises as often as one sampled sparsely: small rises add up to one', () => {
  // 0.44 % of the growth per sample (228 samples 10 ms apart), as corpus web_render_cache on a quiet machine:
  // counted per interval alone, no rise reached RISE_MIN_SHARE (0.5 %) and the climb had no rises at all.
  const n = 228;
  const t = Array.from({ length: n }, (_, k) => k * 10e6);
  const b = Array.from({ length: n }, (_, k) => k * 100_000);
  const g = retainedGrowth(t, b)!;
  assert.ok(g.rises >= 100, `rises ${g.rises}`);
  assert.ok(g.pacedRises >= 100, `paced rises ${g.pacedRises}`);
  // The last rise is near the end (at most one RISE_MIN_SHARE of the growth before it), not where a late sample fell.
  assert.ok(g.lastRiseNs >= t[n - 3]!, `last rise at ${g.lastRiseNs}`);
  // The same climb sampled every 50 ms: as many rises as samples.
  const sparse = retainedGrowth(
    t.filter((_, k) => k % 5 === 0),
    b.filter((_, k) => k % 5 === 0),
  )!;
  assert.equal(sparse.rises, Math.ceil(n / 5) - 1);
});
