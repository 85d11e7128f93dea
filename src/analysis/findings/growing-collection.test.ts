// Fires on a collection whose entries are added over the run and never removed, up to the end; silent on a
// bounded cache, on a load that ends early, and on a few big objects. Captures are written with the encoder.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kinds, MAIN, ms, only, run } from '../../../test/support/findings.js';
import { analyze, type FrameSpec, ProgramCapture } from '../../../test/support/program-capture.js';

const remember: FrameSpec[] = [MAIN, ['handle', 30], ['remember', 24]];
const ENTRY = 50_000;

describe('a cache or collection that only grows', () => {
  test('fires when the entries keep coming until the end, even in a burst at the end (no steady climb)', () => {
    const p = new ProgramCapture();
    p.alloc(1, remember, ENTRY); // the first entry, early
    run(p, 2, (t) => {
      if (t >= 1600 * ms) for (let i = 0; i < 80; i++) p.alloc(1, remember, ENTRY);
    });
    const { verdict, model } = analyze(p.finish());
    assert.deepEqual(kinds(verdict.findings), ['growing-collection']);
    const item = only(verdict.findings, 'growing-collection').items[0]!;
    assert.equal(model.frames.frame(item.line as never).function, 'remember');
    assert.equal(item.leaf, undefined);
    assert.deepEqual([item.count, item.added, item.bytes], [401, 401, 401 * ENTRY]);
    assert.deepEqual([item.fromNs, item.lastAddedNs, item.toNs], [0, 2000 * ms, 2000 * ms]);
  });

  test('silent on a bounded cache: once full, each new entry evicts an old one', () => {
    const p = new ProgramCapture();
    const cache: number[] = [];
    run(p, 3, () => {
      for (let i = 0; i < 40; i++) {
        cache.push(p.alloc(1, remember, ENTRY));
        if (cache.length > 200) p.free(1, cache.shift()!);
      }
    });
    assert.deepEqual(kinds(analyze(p.finish()).verdict.findings), []);
  });

  test('silent on a load that ends early (a plateau)', () => {
    const p = new ProgramCapture();
    run(p, 3, (t) => {
      if (t <= 400 * ms) for (let i = 0; i < 80; i++) p.alloc(1, remember, ENTRY);
    });
    assert.deepEqual(kinds(analyze(p.finish()).verdict.findings), []);
  });

  test('silent on fewer than 100 objects (a few big ones are another finding)', () => {
    const p = new ProgramCapture();
    p.alloc(1, remember, 200_000);
    run(p, 2, (t) => {
      if (t >= 1600 * ms) for (let i = 0; i < 19; i++) p.alloc(1, remember, 200_000);
    });
    assert.deepEqual(
      kinds(analyze(p.finish()).verdict.findings).filter((k) => k === 'growing-collection'),
      [],
    );
  });
});
