// All detectors together: a sensible program gets no finding. Captures are written with the encoder.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kinds, MAIN, run } from '../../../test/support/findings.js';
import { analyze, type FrameSpec, MiB, ProgramCapture, SEC } from '../../../test/support/program-capture.js';

test('a sensible program gets no finding: buffers freed, one growth, a pool, a small cycle', () => {
  const p = new ProgramCapture();
  p.thread(1, 100, 'MainThread', 0);
  const proc: FrameSpec[] = [MAIN, ['main', 10], ['process', 20]];
  const table = p.alloc(1, [MAIN, ['main', 8]], 32 * MiB); // main keeps it, and main keeps running
  for (let w = 0; w < 4; w++) p.thread(2 + w, 200 + w, `worker-${w}`, 1000 + w);
  run(p, 2, () => {
    for (let w = 0; w < 4; w++) p.free(2 + w, p.alloc(2 + w, [['worker', 3], ['process', 20]], 4 * MiB));
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
