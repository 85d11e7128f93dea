// Fires when anonymous RSS stays far above the tracked heap after the program freed much, for several
// snapshots; silent when RSS follows the heap down, and after an attach.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kinds, MAIN, ms, only } from '../../../test/support/findings.js';
import { analyze, type FrameSpec, MiB, ProgramCapture } from '../../../test/support/program-capture.js';

const load: FrameSpec[] = [MAIN, ['main', 10], ['load', 4]];

/** 60 MiB loaded in 60 blocks, 54 of them freed at 0.2 s; anonymous RSS after that: `anonAfter`. */
function freed(anonAfter: (heap: number) => number, header = {}): Uint8Array {
  const p = new ProgramCapture(header);
  const blocks: number[] = [];
  for (let t = 0; t <= 10; t++) {
    if (t === 1) for (let i = 0; i < 60; i++) blocks.push(p.alloc(1, load, MiB));
    if (t === 2) blocks.forEach((b, i) => i % 10 !== 0 && p.free(1, b));
    const heap = t === 0 ? 0 : t === 1 ? 60 * MiB : 6 * MiB;
    const anon = 5 * MiB + (t <= 1 ? heap : anonAfter(heap));
    p.snapshot(t * 100 * ms, { rss: anon + 8 * MiB, anon, file: 8 * MiB });
  }
  return p.finish();
}

describe('freed memory the process kept', () => {
  test('fires with the heap, the RSS held, the baseline and the line whose memory was freed', () => {
    const { verdict, model } = analyze(freed(() => 60 * MiB));
    const f = only(verdict.findings, 'freed-not-returned');
    assert.deepEqual([f.heap, f.rssAnon, f.baseline, f.peakHeap, f.bytes], [6 * MiB, 65 * MiB, 5 * MiB, 60 * MiB, 54 * MiB]);
    assert.equal(model.frames.frame(f.freed[0]!.line as never).function, 'load');
    assert.equal(f.freed[0]!.bytes, 54 * MiB);
  });

  test('silent when RSS follows the heap down, and after an attach', () => {
    const mine = (bytes: Uint8Array): string[] => kinds(analyze(bytes).verdict.findings).filter((k) => k === 'freed-not-returned');
    assert.deepEqual(mine(freed((heap) => heap + MiB)), []);
    assert.deepEqual(mine(freed(() => 60 * MiB, { mode: 2 })), []);
  });
});
