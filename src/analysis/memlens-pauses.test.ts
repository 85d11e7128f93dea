import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CaptureModel } from '../model/model.js';
import { memlensPauses, programClock, programPauses, stoppedWindows } from './memlens-pauses.js';

test("the program's clock leaves memlens's pauses out, and maps back to real time", () => {
  const c = programClock([
    { fromNs: 100, toNs: 150 },
    { fromNs: 300, toNs: 400 },
  ]);
  assert.deepEqual(
    [0, 100, 120, 150, 200, 300, 350, 400, 500].map((t) => c.toProgram(t)),
    [0, 100, 100, 100, 150, 250, 250, 250, 350],
  );
  // A moment at a pause's start is before the pause.
  assert.deepEqual(
    [0, 100, 150, 250, 350].map((t) => c.toReal(t)),
    [0, 100, 200, 300, 500],
  );
  assert.equal(c.pausedBetween(0, 500), 150);
  assert.equal(c.pausedBetween(120, 320), 50);
  assert.equal(c.toProgram(Infinity), Infinity);
});

test('pauses come from the census records: each ends at its record and lasts its pause_ms; the two parts of one census merge', () => {
  const model = {
    censuses: [
      { timeNs: 5_000_000_000, json: JSON.stringify({ kind: 'census', time: 1, pause_ms: 100 }) },
      { timeNs: 2_000_000_000, json: JSON.stringify({ kind: 'census', time: 2, pause_ms: 50 }) },
      { timeNs: 2_100_000_000, json: JSON.stringify({ kind: 'census', time: 2, pause_ms: 150 }) },
      { timeNs: 3_000_000_000, json: '{not json' },
      { timeNs: 4_000_000_000, json: JSON.stringify({ kind: 'census', time: 3 }) },
    ],
  } as unknown as CaptureModel;
  assert.deepEqual(memlensPauses(model), [
    { fromNs: 1_950_000_000, toNs: 2_100_000_000 },
    { fromNs: 4_900_000_000, toNs: 5_000_000_000 },
  ]);
});

test('a gap in the snapshots of a second or more and 50 usual spacings is the process held still; shorter ones are not', () => {
  const ms = 1e6;
  const every10 = Array.from({ length: 100 }, (_, i) => i * 10 * ms); // 0 .. 990 ms
  const model = {
    snapshots: { timeNs: Float64Array.from([...every10, 1000 * ms, 1500 * ms, 1510 * ms, 9000 * ms, 9010 * ms]) },
    censuses: [{ timeNs: 8_000 * ms, json: JSON.stringify({ kind: 'census', pause_ms: 100 }) }],
  } as unknown as CaptureModel;
  // 1000 -> 1500 ms is late, not held. 1510 -> 9000 ms: held from when the next snapshot was due.
  assert.deepEqual(stoppedWindows(model), [{ fromNs: 1520 * ms, toNs: 9000 * ms }]);
  // The census's pause inside it merges into it.
  assert.deepEqual(programPauses(model), [{ fromNs: 1520 * ms, toNs: 9000 * ms }]);
  // Snapshots a second apart (an aggregated writer's pace): a gap must be 50 s.
  const slow = { snapshots: { timeNs: Float64Array.from([0, 1e9, 2e9, 3e9, 40e9, 41e9, 100e9]) }, censuses: [] } as unknown as CaptureModel;
  assert.deepEqual(stoppedWindows(slow), [{ fromNs: 41e9 + 1e9, toNs: 100e9 }]);
  // Too few snapshots to know their pace: nothing.
  assert.deepEqual(stoppedWindows({ snapshots: { timeNs: Float64Array.from([0, 5e9, 10e9]) } } as unknown as CaptureModel), []);
});
