// All detectors together: a sensible program gets no finding. Captures are written with the encoder.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kinds, MAIN, run } from '../../../test/support/findings.js';
import { AGGREGATED_HEADER } from '../../../test/support/program-capture.js';
import { findingsNotLookedFor } from './index.js';
import { analyze, type FrameSpec, MiB, ProgramCapture, SEC } from '../../../test/support/program-capture.js';

test('a sensible program gets no finding: buffers freed, one growth, a pool, a small cycle', () => {
  const p = new ProgramCapture();
  p.thread(1, 100, 'MainThread', 0);
  const proc: FrameSpec[] = [MAIN, ['main', 10], ['process', 20]];
  const table = p.alloc(1, [MAIN, ['main', 8]], 32 * MiB); // main keeps it, and main keeps running
  for (let w = 0; w < 4; w++) p.thread(2 + w, 200 + w, `worker-${w}`, 1000 + w);
  run(p, 2, () => {
    for (let w = 0; w < 4; w++)
      p.free(
        2 + w,
        p.alloc(
          2 + w,
          [
            ['worker', 3],
            ['process', 20],
          ],
          4 * MiB,
        ),
      );
    let a = p.alloc(1, proc, 1024);
    a = p.realloc(1, proc, a, 2048);
    p.free(1, a);
    const start = p.seq + 1;
    p.free(1, p.alloc(1, proc, 1000));
    p.gc(1, 0, 0, 5, 10_000, start);
  });
  for (let w = 0; w < 4; w++) p.threadExit(2 + w, 2 * SEC);
  p.free(1, table);
  const { verdict } = analyze(p.finish());
  assert.deepEqual(kinds(verdict.findings), []);
});

test('what a capture cannot show is said: no snapshots, too few, aggregated, no limit, attached', () => {
  const whys = (header: object, snapshots: number, limit?: number): string[] => {
    const p = new ProgramCapture(header);
    for (let i = 0; i < snapshots; i++) p.snapshot(i * 10_000_000, limit === undefined ? {} : { cgroupUsage: MiB, cgroupLimit: limit });
    return findingsNotLookedFor(analyze(p.finish()).model).map((n) => n.why);
  };
  assert.deepEqual(whys({}, 0), ['the capture has no memory snapshot to place its events in time', 'no memory limit was recorded to measure it against']);
  assert.deepEqual(whys({}, 3, 64 * MiB), ['the capture has only 3 memory snapshots: too short to see a climb']);
  assert.deepEqual(whys({}, 10, 64 * MiB), []);
  assert.deepEqual(whys(AGGREGATED_HEADER, 10), ['an aggregated capture keeps totals per location, not each allocation']);
  assert.deepEqual(whys({ mode: 2 }, 10, 64 * MiB), ['after an attach the heap does not count what was allocated before it']);
});
