// The program's clock without memlens's own time: between two snapshots it runs slower by the share of the
// interval that memlens's recording took, never slower than MIN_OWN_RATE, and as before where the snapshots
// carry no own time.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { programClock } from './memlens-pauses.js';
import { MIN_OWN_RATE, withOwnTime } from './own-time.js';

const ms = 1e6;
const round = (v: number): number => Math.round(v / 1000) / 1000;

test("memlens's own time between two snapshots is cut from the program's clock, which maps back to real time", () => {
  // 10 ms intervals; memlens took 0, 6, 0 and 2.5 ms of them.
  const time = [0, 10 * ms, 20 * ms, 30 * ms, 40 * ms];
  const own = [0, 0, 6 * ms, 6 * ms, 8.5 * ms];
  const c = withOwnTime(programClock([]), time, own);
  assert.deepEqual(
    [0, 5, 10, 15, 20, 30, 40, 50].map((t) => round(c.toProgram(t * ms))),
    [0, 5, 10, 12, 14, 24, 31.5, 41.5],
  );
  for (const t of [0, 3, 10, 15, 27, 40, 55]) assert.ok(Math.abs(c.toReal(c.toProgram(t * ms)) - t * ms) < 1, `${t} ms`);
  assert.equal(round(c.pausedBetween(10 * ms, 40 * ms)), 8.5);
  // The snapshots' pace is their own: not slowed.
  assert.equal(c.toPaced?.(15 * ms), 15 * ms);
});

test("with memlens's pauses: the own time is cut from what the pauses leave", () => {
  // A census paused the program from 12 to 16 ms; memlens recorded for 3 ms of the rest of that interval.
  const c = withOwnTime(programClock([{ fromNs: 12 * ms, toNs: 16 * ms }]), [0, 10 * ms, 20 * ms], [0, 0, 3 * ms]);
  assert.equal(round(c.toProgram(20 * ms)), 13);
  assert.equal(round(c.pausedBetween(10 * ms, 20 * ms)), 7);
  assert.equal(round(c.toPaced!(20 * ms)), 16);
});

test('never slower than MIN_OWN_RATE: an estimate above the interval (threads that ran at once, a sampled outlier)', () => {
  const c = withOwnTime(programClock([]), [0, 10 * ms, 20 * ms], [0, 25 * ms, 26 * ms]);
  assert.equal(round(c.toProgram(10 * ms)), 10 * MIN_OWN_RATE);
  assert.equal(round(c.toProgram(20 * ms)), 10 * MIN_OWN_RATE + 9);
});

test('the inner clock itself without own times (an agent before them), or when they never grew', () => {
  const inner = programClock([{ fromNs: 5 * ms, toNs: 6 * ms }]);
  assert.equal(withOwnTime(inner, [0, 10 * ms, 20 * ms], [NaN, NaN, NaN]), inner);
  assert.equal(withOwnTime(inner, [0, 10 * ms, 20 * ms], [7, 7, 7]), inner);
  assert.equal(withOwnTime(inner, [0], [0]), inner);
});
