// A collection that only grows, whose growth started part-way through the run: which finding names it
// (accumulation or growing-collection) depends on where the growth started in the run's time, which a busy
// machine moves. Near that boundary either finding names both; away from it each keeps its own title.
// Captures are written with the encoder; the shapes are those of the corpus's callback_registry, idle and
// under a CPU quota.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kinds, MAIN, ms, run } from '../../../test/support/findings.js';
import { analyze, type FrameSpec, ProgramCapture } from '../../../test/support/program-capture.js';
import { ACCUMULATION_TEXT } from './accumulation.js';
import { PACE_BOTH_TEXT } from './collection-evidence.js';
import { GROWING_COLLECTION_TEXT } from './growing-collection.js';

const register: FrameSpec[] = [MAIN, ['handle', 30], ['register', 24], ['__init__', 12]];
const ENTRIES = 300;

/**
 * A run of 6 s with 5 entries made at its start, then none until `startShare` of the run, then ENTRIES
 * entries of `size` bytes added evenly up to the end.
 */
function registry(startShare: number, size = 50_000, entries = ENTRIES): { title: string; kinds: string[] } {
  const p = new ProgramCapture();
  for (let i = 0; i < 5; i++) p.alloc(1, register, size);
  const ticks = 60;
  const first = Math.round(startShare * ticks);
  let added = 0;
  run(p, 6, (t) => {
    const tick = Math.round(t / (100 * ms));
    if (tick <= first) return;
    const due = Math.round((entries * (tick - first)) / (ticks - first));
    for (; added < due; added++) p.alloc(1, register, size);
  });
  const { verdict } = analyze(p.finish());
  const mine = verdict.findings.filter((f) => f.kind === 'accumulation' || f.kind === 'growing-collection');
  assert.equal(mine.length, 1, kinds(verdict.findings).join(', '));
  return { title: mine[0]!.title, kinds: kinds(verdict.findings) };
}

describe('a collection that started growing part-way: the finding names both where the pace decides', () => {
  test('started at the middle (the idle shape): a collection that only grows, and it says it also accumulated', () => {
    const r = registry(0.5);
    assert.deepEqual(r.kinds, ['growing-collection']);
    assert.equal(r.title, PACE_BOTH_TEXT.title);
  });

  test('started at 40% (the same program with its second part slowed): an accumulation, and it says it is a collection too', () => {
    const r = registry(0.4);
    assert.deepEqual(r.kinds, ['accumulation']);
    assert.equal(r.title, PACE_BOTH_TEXT.title);
  });

  test('started at 30% (its second part slowed more than twice as much): still named both', () => {
    const r = registry(0.3);
    assert.deepEqual(r.kinds, ['accumulation']);
    assert.equal(r.title, PACE_BOTH_TEXT.title);
  });

  test('growing from the start (the commonest leak): an accumulation under its own title', () => {
    const r = registry(0);
    assert.deepEqual(r.kinds, ['accumulation']);
    assert.equal(r.title, ACCUMULATION_TEXT.title);
  });

  test('a burst in the last 15% of the run: a collection that only grows under its own title', () => {
    const r = registry(0.85);
    assert.deepEqual(r.kinds, ['growing-collection']);
    assert.equal(r.title, GROWING_COLLECTION_TEXT.title);
  });

  test('not a collection (a few big objects from 40% of the run): an accumulation under its own title', () => {
    const r = registry(0.4, 1 << 20, 40);
    assert.deepEqual(r.kinds, ['accumulation']);
    assert.equal(r.title, ACCUMULATION_TEXT.title);
  });
});
