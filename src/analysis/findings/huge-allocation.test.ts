// Fires on one allocation of a quarter of the limit or more alive when the process reached its limit;
// silent without a limit, below a quarter, and on what importing a library made.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kinds, MAIN, ms, only } from '../../../test/support/findings.js';
import { analyze, type FrameSpec, MiB, ProgramCapture, SEC } from '../../../test/support/program-capture.js';

const NUMPY = '/usr/lib/python3.12/site-packages/numpy/_core/numeric.py';
const means: FrameSpec[] = [MAIN, ['main', 14], ['column_means', 8], ['ones', 233, NUMPY]];
const LIMIT = 128 * MiB;

function dying(bytes: number, frames: readonly FrameSpec[], limit: number | undefined, thread?: { stream: number; name: string }): Uint8Array {
  const p = new ProgramCapture();
  if (thread !== undefined) p.thread(thread.stream, 200, thread.name, 0);
  for (let t = 0; t <= 10; t++) {
    if (t === 3) p.alloc(thread?.stream ?? 1, frames, bytes);
    const usage = 20 * MiB + (t >= 3 ? Math.min(bytes, 108 * MiB) : 0);
    p.snapshot(t * 50 * ms, limit === undefined ? {} : { cgroupUsage: usage, cgroupLimit: limit });
  }
  p.exit({ timeNs: 0.55 * SEC, signal: 9, oomKill: 1 });
  return p.finish();
}

describe('one huge allocation', () => {
  test('fires with the program line, the library frame, its share of the limit and when it was alive', () => {
    const { verdict, model } = analyze(dying(153 * MiB, means, LIMIT));
    const f = only(verdict.findings, 'huge-allocation');
    assert.equal(model.frames.frame(f.line as never).function, 'column_means');
    assert.equal(model.frames.frame(f.leaf!).function, 'ones');
    assert.deepEqual([f.allocationBytes, f.limit, f.madeNs, f.at, f.atNs, f.oomKilled], [153 * MiB, LIMIT, 100 * ms, 'limit', 150 * ms, true]);
  });

  test('silent without a limit, below a quarter of it, and on what an import made', () => {
    assert.deepEqual(kinds(analyze(dying(153 * MiB, means, undefined)).verdict.findings), []);
    assert.deepEqual(kinds(analyze(dying(30 * MiB, means, LIMIT)).verdict.findings), []);
    const importing: FrameSpec[] = [MAIN, ['<module>', 11, '/usr/lib/python3.12/site-packages/numpy/_core/multiarray.py']];
    assert.deepEqual(kinds(analyze(dying(64 * MiB, importing, LIMIT)).verdict.findings), []);
    // numpy 2.3's OpenBLAS maps its buffer in blas_fpe_check, a function numpy's __init__ calls at its import.
    const NUMPY = '/usr/lib/python3.12/site-packages/numpy/__init__.py';
    const calledByImport: FrameSpec[] = [MAIN, ['<module>', 890, NUMPY], ['blas_fpe_check', 881, NUMPY]];
    assert.deepEqual(kinds(analyze(dying(64 * MiB, calledByImport, LIMIT)).verdict.findings), []);
  });

  test("silent on an allocation with no Python frame: a native thread's own, not something the program built", () => {
    // numpy 2.0's OpenBLAS: each worker thread (no Python frame ever) maps its 32 MiB buffer as it starts.
    assert.deepEqual(kinds(analyze(dying(32 * MiB, [], LIMIT, { stream: 2, name: 'python3' })).verdict.findings), []);
    // The same on the main thread but under the program's line is the program's.
    assert.deepEqual(kinds(analyze(dying(32 * MiB, means, LIMIT, { stream: 2, name: 'worker' })).verdict.findings), ['huge-allocation']);
  });
});
