// Fires on a collection grown by realloc in a loop, naming the line, and stays silent just below its
// thresholds and on mallocs that are not reallocations. Captures are written with the encoder.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kinds, MAIN, only } from '../../../test/support/findings.js';
import { analyze, type FrameSpec, MiB, ProgramCapture, SEC } from '../../../test/support/program-capture.js';
import type { FrameId } from '../../model/ids.js';
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
  // The line is found by walking out from the innermost Python frame (own-code.ts ownPyLine()); the stack shown is
  // made at the end, for the line's site with the most growths.
  const NUMPY = '/usr/lib/python3.12/site-packages/numpy/_core/numeric.py';
  function growAt(p: ProgramCapture, frames: readonly FrameSpec[], steps: number, last: number): void {
    let addr = p.alloc(1, frames, 1024);
    for (let i = 1; i <= steps; i++) addr = p.realloc(1, frames, addr, Math.round(1024 + ((last - 1024) * i) / steps));
  }

  test('a library frame inside the own line: grouped at the own line, the stack of the site with the most growths', () => {
    const p = new ProgramCapture();
    growAt(p, grow, 20, 2 * MiB);
    growAt(p, [...grow, ['append', 3, NUMPY]], 30, MiB);
    p.snapshot(SEC);
    const { verdict, model } = analyze(p.finish());
    const f = only(verdict.findings, 'collection-growth');
    assert.equal(f.items.length, 1);
    const item = f.items[0]!;
    assert.equal(model.frames.frame(item.line as FrameId).function, 'build');
    assert.equal(item.growths, 50);
    assert.equal(item.maxBytes, 2 * MiB);
    assert.deepEqual(
      item.frames.map((id) => model.frames.frame(id).function),
      ['<module>', 'build', 'append'],
    );
  });

  test('no own-code frame: the line is the innermost frame', () => {
    const p = new ProgramCapture();
    growAt(
      p,
      [
        ['<module>', 1, NUMPY],
        ['concatenate', 9, NUMPY],
      ],
      40,
      2 * MiB,
    );
    p.snapshot(SEC);
    const { verdict, model } = analyze(p.finish());
    const item = only(verdict.findings, 'collection-growth').items[0]!;
    assert.equal(model.frames.frame(item.line as FrameId).function, 'concatenate');
    assert.deepEqual(
      item.frames.map((id) => model.frames.frame(id).function),
      ['<module>', 'concatenate'],
    );
  });
});
