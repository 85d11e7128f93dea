// The evidence line of an accumulation says when the line last rose, when it then held still for a while
// (a leak that stopped before the end), and not when it rose up to the end. Captures are written with the
// encoder.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAIN, only, run } from '../../test/support/findings.js';
import { analyze, type FrameSpec, MiB, ProgramCapture, SEC } from '../../test/support/program-capture.js';
import type { Finding } from '../analysis/findings/index.js';
import type { CaptureModel } from '../model/model.js';
import { findingEvidence, findingJson } from './findings.js';

const keep: FrameSpec[] = [MAIN, ['main', 10], ['remember', 24]];

/** 1 MiB kept every 100 ms up to `climbS`, then other work up to `seconds`. */
function accumulationOf(climbS: number, seconds: number): { model: CaptureModel; f: Finding & { kind: 'accumulation' } } {
  const p = new ProgramCapture();
  run(p, seconds, (t) => {
    if (t > 0 && t <= climbS * SEC) p.alloc(1, keep, MiB);
    else if (t > climbS * SEC) p.free(1, p.alloc(1, [MAIN, ['main', 12], ['report', 50]], 2 * MiB));
  });
  const { verdict, model } = analyze(p.finish());
  return { model, f: only(verdict.findings, 'accumulation') };
}

function evidence(climbS: number, seconds: number): string {
  const { model, f } = accumulationOf(climbS, seconds);
  return findingEvidence(model, f).join('\n');
}

test('a climb that stopped before the end: its last rise is said', () => {
  assert.match(evidence(1, 2.5), /kept 10\.0 MiB from 0\.000 s to 2\.500 s \([\d.]+ MiB\/s; its last rise at 1\.000 s\), rising in 10 of 25 intervals between snapshots and never given back;/);
});

test('the JSON has the last rise too', () => {
  const { model, f } = accumulationOf(1, 2.5);
  const item = (findingJson(model, f)['items'] as Record<string, unknown>[])[0]!;
  assert.deepEqual([item['from_ns'], item['last_rise_ns'], item['to_ns'], item['memlens_ns']], [0, SEC, 2.5 * SEC, 0]);
});

test('a climb up to the end: no last rise to say', () => {
  const text = evidence(3, 3);
  assert.match(text, /rising in 30 of 30 intervals between snapshots and never given back;/);
  assert.doesNotMatch(text, /last rise/);
});

test("the rate says when it leaves out much time that was memlens's (its pauses, its own recording)", () => {
  const { model, f } = accumulationOf(1, 2.5);
  const item = f.items[0]!;
  const withOwn = (pausedNs: number): string => findingEvidence(model, { ...f, items: [{ ...item, growth: { ...item.growth, pausedNs } }] }).join('\n');
  assert.match(withOwn(0.5 * SEC), /MiB\/s, leaving out the [\d.]+ \S+ memlens took; its last rise at 1\.000 s\)/);
  // A tenth of the span or less: not worth a word.
  assert.doesNotMatch(withOwn(0.2 * SEC), /leaving out/);
});
