// Fires when a collection freed at least the finding minimum, with the stack that allocated it, and
// stays silent below. Captures are written with the encoder.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kinds, MAIN, ms, only } from '../../../test/support/findings.js';
import { analyze, type FrameSpec, MiB, ProgramCapture } from '../../../test/support/program-capture.js';

describe('reference cycles freed by the collector', () => {
  function cycles(mib: number): Uint8Array {
    const p = new ProgramCapture();
    const node: FrameSpec[] = [MAIN, ['churn', 12], ['Node.__init__', 7]];
    const bufs: number[] = [];
    for (let i = 0; i < mib; i++) bufs.push(p.alloc(1, node, MiB));
    const other = p.alloc(1, [MAIN, ['other', 30]], 8 * MiB);
    p.free(1, other); // freed by reference counting, before the collection starts
    const start = p.seq + 1;
    for (const b of bufs) p.free(1, b);
    p.gc(1, 50 * ms, 0, mib * 3, 2 * ms, start);
    p.snapshot(100 * ms);
    return p.finish();
  }

  test('fires with the bytes the collection freed and the stack that allocated them', () => {
    const { verdict, model } = analyze(cycles(6));
    const f = only(verdict.findings, 'gc-cycles');
    assert.equal(f.bytes, 6 * MiB);
    assert.equal(f.allocations, 6);
    assert.equal(f.collections, 1);
    assert.deepEqual(f.largest, { timeNs: 50 * ms, generation: 0, bytes: 6 * MiB });
    const st = f.stacks[0];
    assert.ok(st !== undefined);
    assert.equal(model.frames.frame(st.frames[st.frames.length - 1]!).function, 'Node.__init__');
    assert.equal(verdict.gc.bytesFreed, 6 * MiB);
    assert.equal(verdict.gc.generations[0]?.bytesFreed, 6 * MiB);
  });

  test('silent below 4 MiB', () => {
    const { verdict } = analyze(cycles(3));
    assert.deepEqual(kinds(verdict.findings), []);
    assert.equal(verdict.gc.bytesFreed, 3 * MiB);
  });
});
