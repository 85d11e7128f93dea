// The program's end (PROGRAM_END): "live at the end" is what memlens's release of the script's names left,
// while the findings, the last seconds and the GC report stop at the marker; captures without the marker
// (older ones, an attach) read as before, and every report says which end it means. Captures are written
// with the encoder.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kinds, MAIN, ms } from '../../test/support/findings.js';
import { analyze, type FrameSpec, MiB, ProgramCapture, SEC } from '../../test/support/program-capture.js';
import { MARKER_KINDS } from '../capture/format.js';
import { describeEndMoment } from './ending.js';
import { gcReport } from './gc.js';
import { leaks } from './leaks.js';
import { findings } from './findings/index.js';
import { COLLECT_FROM_BYTES, collectNow, collectionsForced, outgrown } from '../util/outgrown.js';
import { modelAtProgramEnd, programEndOf } from './program-end.js';

const PROGRAM_END = MARKER_KINDS.indexOf('program-end');
const keep: FrameSpec[] = [MAIN, ['main', 10], ['load_partition', 7]];

/**
 * 1 MiB kept every 100 ms from 0.5 s to 3 s in a module-level list; then, if `release`, the program's
 * end is marked and the release frees all of it and one collection runs, before the interpreter exits.
 */
function accumulatedToTheEnd(end: 'released' | 'kept' | 'unmarked'): Uint8Array {
  const p = new ProgramCapture();
  p.thread(1, 100, 'MainThread', 0);
  const held: number[] = [];
  for (let t = 0; t <= 3 * SEC; t += 100 * ms) {
    if (t >= 500 * ms) held.push(p.alloc(1, keep, MiB));
    p.snapshot(t);
  }
  if (end === 'released') {
    p.marker(PROGRAM_END, 'released', 3 * SEC + 5 * ms);
    const start = p.seq + 1;
    for (const a of held) p.free(1, a);
    p.gc(1, 3 * SEC + 8 * ms, 2, 40, 2 * ms, start);
    p.snapshot(3 * SEC + 9 * ms);
  } else if (end === 'kept') {
    p.marker(PROGRAM_END, "kept: 1 other thread still running ('poller')", 3 * SEC + 5 * ms);
  }
  p.trailer(3 * SEC + 10 * ms);
  p.exit({ timeNs: 3 * SEC + 12 * ms });
  return p.finish();
}

describe("the program's end", () => {
  test('the marker: released, or kept and why; none in an older capture', () => {
    assert.deepEqual(programEndOf(analyze(accumulatedToTheEnd('released')).model), { seq: 27, timeNs: 3 * SEC + 5 * ms, released: true, keptBecause: '' });
    assert.deepEqual(programEndOf(analyze(accumulatedToTheEnd('kept')).model)?.keptBecause, "1 other thread still running ('poller')");
    assert.equal(programEndOf(analyze(accumulatedToTheEnd('unmarked')).model), undefined);
  });

  test('what the release freed is not live at the end; the accumulation up to the end is still found', () => {
    const { model, facts, verdict } = analyze(accumulatedToTheEnd('released'));
    assert.equal(leaks(model).totalBytes, 0, 'live at the end: nothing');
    assert.deepEqual(kinds(verdict.findings), ['accumulation']);
    const f = verdict.findings[0]!;
    assert.equal(f.bytes, 26 * MiB, 'the program held 26 MiB at its end');
    assert.equal(facts.stoppedAt?.timeNs, 3 * SEC + 5 * ms);
    // The last seconds stop at the end: the release is no shrink.
    assert.equal(verdict.recent?.heapBytes, 26 * MiB);
    // The collection after the end is memlens's.
    assert.equal(gcReport(model, facts.gcFrees).collections, 0);
    assert.equal(model.gcs.length, 1, 'the model keeps the record itself');
    assert.match(
      describeEndMoment(verdict.ending, false),
      /^at the program's end \(3\.005 s\): after its code, threads and exit handlers, with the script's module-level names released as at the interpreter's teardown/,
    );
  });

  test('the findings judge the model at the end they are given: the verdict makes it once, for the last seconds and for them', () => {
    const { model, facts, verdict } = analyze(accumulatedToTheEnd('released'));
    const atEnd = modelAtProgramEnd(model, facts.series, programEndOf(model));
    assert.deepEqual(findings(model, facts, { atEnd }), findings(model, facts));
    assert.deepEqual(verdict.findings, findings(model, facts));
    // Given the model after memlens's release (nothing live at its end), no accumulation: they read what they are given.
    assert.ok(!kinds(findings(model, facts, { atEnd: model })).includes('accumulation'));
  });

  test("what the findings made for every site is collected before they return (the summary's stacks come next)", () => {
    const { model, facts } = analyze(accumulatedToTheEnd('released'));
    collectNow(); // nothing pending
    outgrown(COLLECT_FROM_BYTES - 1);
    const before = collectionsForced();
    findings(model, facts);
    assert.equal(collectionsForced(), before + 1);
  });

  test('the same program in an older capture (no marker): the same finding, everything live at the end, said as such', () => {
    const { model, verdict } = analyze(accumulatedToTheEnd('unmarked'));
    assert.equal(leaks(model).totalBytes, 26 * MiB);
    assert.deepEqual(kinds(verdict.findings), ['accumulation']);
    assert.match(describeEndMoment(verdict.ending, false), /module-level names still refer to counts \(memray releases them first\)/);
  });

  test('names kept (a daemon thread ran on): live at the end, and the report says why', () => {
    const { model, verdict } = analyze(accumulatedToTheEnd('kept'));
    assert.equal(leaks(model).totalBytes, 26 * MiB);
    assert.deepEqual(kinds(verdict.findings), ['accumulation']);
    assert.match(describeEndMoment(verdict.ending, false), /the script's module-level names were not released \(1 other thread still running \('poller'\)\), so what they refer to counts$/);
  });

  test("a detach is not the program's end: the end is when tracking stopped", () => {
    const p = new ProgramCapture({ mode: 2 });
    p.thread(1, 100, 'MainThread', 0);
    p.alloc(1, keep, MiB);
    p.snapshot(100 * ms);
    p.trailer(200 * ms, 2);
    const { verdict } = analyze(p.finish());
    assert.equal(verdict.ending.programEnd, undefined);
    assert.equal(describeEndMoment(verdict.ending, true), 'when tracking stopped at 0.200 s, the process still running');
  });
});
