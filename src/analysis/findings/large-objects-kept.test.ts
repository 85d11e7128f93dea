// Fires on a capture written to show large objects kept after their maker returned, with the evidence
// it should carry, and stays silent just below its thresholds. Captures are written with the encoder.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kinds, MAIN, ms, only, run } from '../../../test/support/findings.js';
import { analyze, type FrameSpec, MiB, ProgramCapture, SEC } from '../../../test/support/program-capture.js';

describe('large objects kept alive after their maker returned', () => {
  const load: FrameSpec[] = [MAIN, ['main', 10], ['load_table', 20]];
  const work: FrameSpec[] = [MAIN, ['main', 10], ['work', 30]];

  test('fires with the maker, the bytes, when it returned and how long they outlived it', () => {
    const p = new ProgramCapture();
    p.thread(1, 100, 'MainThread', 0);
    run(p, 3, (t) => {
      if (t === 100 * ms) for (let i = 0; i < 2; i++) p.alloc(1, load, 8 * MiB);
      if (t >= 200 * ms) p.free(1, p.alloc(1, work, 4096)); // main moved on: load_table had returned
    });
    const { verdict, model } = analyze(p.finish());
    const f = only(verdict.findings, 'large-objects-kept');
    assert.equal(f.bytes, 16 * MiB);
    const item = f.items[0];
    assert.ok(item !== undefined);
    assert.equal(model.frames.frame(item.maker).function, 'load_table');
    assert.equal(item.count, 2);
    assert.equal(item.liveAtEndCount, 2);
    assert.equal(item.firstAllocNs, 0); // the last snapshot before it: t = 0
    assert.equal(item.makerReturnedNs, 100 * ms); // the first allocation outside it, after the t = 100 ms snapshot
    assert.equal(item.outlivedNs, 2.9 * SEC);
  });

  test('silent without evidence that the maker returned (no later allocation outside it)', () => {
    const p = new ProgramCapture();
    run(p, 3, (t) => {
      if (t === 100 * ms) p.alloc(1, load, 16 * MiB);
      if (t >= 200 * ms) p.free(1, p.alloc(1, load, 4096)); // still inside load_table
    });
    assert.deepEqual(kinds(analyze(p.finish()).verdict.findings), []);
  });

  test('silent below 4 MiB, at module level, and when freed promptly', () => {
    const p = new ProgramCapture();
    run(p, 3, (t) => {
      if (t === 100 * ms) {
        p.alloc(1, load, 3 * MiB); // too small
        p.alloc(1, [MAIN], 32 * MiB); // module level
        const prompt = p.alloc(1, [MAIN, ['main', 10], ['scratch', 40]], 32 * MiB);
        p.free(1, p.alloc(1, work, 4096));
        p.free(1, prompt); // freed within the same snapshot interval
      }
      if (t >= 200 * ms) p.free(1, p.alloc(1, work, 4096));
    });
    assert.deepEqual(kinds(analyze(p.finish()).verdict.findings), []);
  });

  test("silent on what a library's import made (numpy's OpenBLAS buffer), not on what a library function called by the program made", () => {
    const NUMPY = '/usr/lib/python3.12/site-packages/numpy/__init__.py';
    const numpyImport: FrameSpec[] = [MAIN, ['<module>', 890, NUMPY], ['blas_fpe_check', 881, NUMPY]];
    const ones: FrameSpec[] = [MAIN, ['ones', 233, '/usr/lib/python3.12/site-packages/numpy/_core/numeric.py']];
    const importOnly = new ProgramCapture();
    run(importOnly, 3, (t) => {
      if (t === 100 * ms) importOnly.alloc(1, numpyImport, 32 * MiB);
      if (t >= 200 * ms) importOnly.free(1, importOnly.alloc(1, work, 4096)); // the import had returned
    });
    assert.deepEqual(kinds(analyze(importOnly.finish()).verdict.findings), []);
    // The same bytes made by a library function the program's module code called, and kept: still found.
    const called = new ProgramCapture();
    run(called, 3, (t) => {
      if (t === 100 * ms) called.alloc(1, ones, 32 * MiB);
      if (t >= 200 * ms) called.free(1, called.alloc(1, work, 4096));
    });
    const { verdict, model } = analyze(called.finish());
    assert.equal(model.frames.frame(only(verdict.findings, 'large-objects-kept').items[0]!.maker).function, 'ones');
  });

  test('silent when it did not outlive its maker for long (the run goes on only briefly)', () => {
    const p = new ProgramCapture();
    run(p, 0.4, (t) => {
      if (t === 0) p.alloc(1, load, 16 * MiB);
      if (t >= 100 * ms) p.free(1, p.alloc(1, work, 4096));
    });
    assert.deepEqual(kinds(analyze(p.finish()).verdict.findings), []);
  });

  test('made again and again at one stack and all kept to the end: kept, without proof that the maker returned', () => {
    const p = new ProgramCapture();
    const arrays: FrameSpec[] = [MAIN, ['main', 10], ['load', 4], ['ones', 233, '/usr/lib/python3.12/site-packages/numpy/_core/numeric.py']];
    run(p, 2, (t) => {
      if (t <= 200 * ms) for (let i = 0; i < 3; i++) p.alloc(1, arrays, 30 * MiB); // nine 30 MiB arrays, by 0.2 s
    });
    const { verdict, model } = analyze(p.finish());
    const f = only(verdict.findings, 'large-objects-kept');
    const item = f.items[0]!;
    assert.equal(item.proof, 'repeated');
    assert.equal(model.frames.frame(item.maker).function, 'load');
    assert.deepEqual([item.count, item.liveAtEndCount, item.bytes], [9, 9, 270 * MiB]);
    assert.deepEqual([item.firstAllocNs, item.outlivedNs], [0, 2 * SEC]);
  });

  test('silent on two such objects (working buffers), and when the stack also freed one late', () => {
    const bufs: FrameSpec[] = [MAIN, ['main', 10], ['make_buffers', 4]];
    const two = new ProgramCapture();
    run(two, 2, (t) => {
      if (t === 0) for (let i = 0; i < 2; i++) two.alloc(1, bufs, 30 * MiB);
    });
    assert.deepEqual(kinds(analyze(two.finish()).verdict.findings), []);
    const freedOne = new ProgramCapture();
    let late = 0;
    run(freedOne, 2, (t) => {
      if (t === 0) for (let i = 0; i < 4; i++) late = freedOne.alloc(1, bufs, 30 * MiB);
      if (t === 1000 * ms) freedOne.free(1, late);
    });
    assert.deepEqual(kinds(analyze(freedOne.finish()).verdict.findings), []);
  });
});
