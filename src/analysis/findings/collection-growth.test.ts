// Fires on a collection grown by realloc in a loop, naming the line, and stays silent just below its
// thresholds and on mallocs that are not reallocations. Captures are written with the encoder.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kinds, MAIN, only } from '../../../test/support/findings.js';
import { analyze, type FrameSpec, MiB, ProgramCapture, SEC } from '../../../test/support/program-capture.js';
import { GROWTH_MIN_EVENTS } from './collection-growth.js';

describe('repeated growth of a collection', () => {
  const grow: FrameSpec[] = [MAIN, ['build', 7]];
  function growth(steps: number, last: number): Uint8Array {
    const p = new ProgramCapture();
    let addr = p.alloc(1, grow, 1024);
    for (let i = 1; i <= steps; i++) addr = p.realloc(1, grow, addr, Math.round(1024 + ((last - 1024) * i) / steps));
    p.snapshot(SEC);
    return p.finish();
  }

  test(`fires at ${GROWTH_MIN_EVENTS} growths reaching 1 MiB, naming the line`, () => {
    const { verdict, model } = analyze(growth(GROWTH_MIN_EVENTS, 2 * MiB));
    const f = only(verdict.findings, 'collection-growth');
    const item = f.items[0];
    assert.ok(item !== undefined && item.line !== -1);
    assert.equal(model.frames.frame(item.line).function, 'build');
    assert.equal(item.growths, GROWTH_MIN_EVENTS);
    assert.equal(item.maxBytes, 2 * MiB);
    assert.ok(item.copiedBytes > 30 * MiB && item.copiedBytes < 34 * MiB, `copied ${item.copiedBytes}`);
  });

  test('silent with one growth fewer, or below 1 MiB', () => {
    assert.deepEqual(kinds(analyze(growth(GROWTH_MIN_EVENTS - 1, 2 * MiB)).verdict.findings), []);
    assert.deepEqual(kinds(analyze(growth(200, MiB - 4096)).verdict.findings), []);
  });

  test('mallocs after smaller frees are not growths: only realloc sites count', () => {
    const p = new ProgramCapture();
    let addr = p.alloc(1, grow, 1024);
    for (let i = 1; i <= 100; i++) {
      p.free(1, addr);
      addr = p.alloc(1, grow, 1024 + i * 64 * 1024);
    }
    p.snapshot(SEC);
    assert.deepEqual(kinds(analyze(p.finish()).verdict.findings), []);
  });
});
