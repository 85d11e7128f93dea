// groupByOwnLine(): sites grouped at their own line (found by walking out from the innermost Python frame), the leaf
// and the stack those of the group's site holding the most at the end, and a stack without own code at its
// innermost frame. Captures are written with the encoder.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAIN } from '../../../test/support/findings.js';
import { analyze, type FrameSpec, MiB, ProgramCapture, SEC } from '../../../test/support/program-capture.js';
import { DEFAULT_FRAME_FILTER } from '../../model/frames.js';
import { groupByOwnLine } from './line-groups.js';

const NUMPY = '/usr/lib/python3.12/site-packages/numpy/_core/numeric.py';

test('sites at one own line, one through a library frame; a stack without own code at its innermost frame', () => {
  const p = new ProgramCapture();
  const build: FrameSpec[] = [MAIN, ['build', 7]];
  p.alloc(1, build, MiB);
  p.alloc(1, [...build, ['append', 3, NUMPY]], 4 * MiB);
  p.alloc(1, [...build, ['extend', 4, NUMPY]], 2 * MiB);
  p.alloc(
    1,
    [
      ['<module>', 1, NUMPY],
      ['concatenate', 9, NUMPY],
    ],
    3 * MiB,
  );
  p.snapshot(SEC);
  const { model } = analyze(p.finish());
  const name = (id: number | undefined): string | undefined => (id === undefined || id < 0 ? undefined : model.frames.frame(id as never).function);
  const groups = groupByOwnLine(model, DEFAULT_FRAME_FILTER, () => true).map((g) => ({
    line: name(g.line),
    leaf: name(g.leaf),
    sites: g.sites.length,
    live: g.liveBytes,
    frames: g.frames.map((id) => name(id)),
  }));
  assert.deepEqual(groups, [
    { line: 'build', leaf: 'append', sites: 3, live: 7 * MiB, frames: ['<module>', 'build', 'append'] },
    { line: 'concatenate', leaf: undefined, sites: 1, live: 3 * MiB, frames: ['<module>', 'concatenate'] },
  ]);
});
