// The agent follows the writer rules of docs/capture-format.md: decoding one of its captures and encoding
// the records again with src/capture/encoder.ts, block by block, gives the same bytes.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { decodeCapture } from '../../src/capture/decoder.js';
import { Collector, reencode } from '../support/collect.js';
import { memlensRun, tempDir } from '../support/memlens-run.js';
import { corePythons, label } from '../support/pythons.js';
import { ALLOC_PROG, DEEP_PROG, THREADS_PROG } from './programs.js';

for (const py of corePythons()) {
  describe(`writer rules under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);
    const cases: [string, string, readonly string[]][] = [
      ['alloc.py', ALLOC_PROG, []],
      ['threads.py', THREADS_PROG.replace('import sitecustomize\n', 'import types, threading\nsitecustomize = types.SimpleNamespace(early_go=threading.Event(), early_threads=[])\n'), []],
      ['deep.py', DEEP_PROG, ['--native']],
      ['objects.py', 'KEEP = [str(i) * 5 for i in range(30000)]\n', ['--trace-python-allocators']],
      ['aggregated.py', ALLOC_PROG, ['--aggregate', '--native']],
    ];
    for (const [name, source, runArgs] of cases) {
      test(`${name} ${runArgs.join(' ')}: re-encoding gives the same bytes`, async () => {
        const r = await memlensRun({ python: py.python, files: { [name]: source }, program: [name], output: `${name}.mlens`, runArgs: ['--no-compress', ...runArgs] }, tmp.dir);
        assert.equal(r.code, 0, r.stderr);
        const bytes = new Uint8Array(readFileSync(r.capture));
        const c = new Collector();
        decodeCapture(bytes, c);
        assert.deepEqual(c.c.warnings, []);
        assert.ok(c.c.blocks.length >= 2);
        const again = reencode(c.c);
        assert.equal(again.length, bytes.length);
        assert.ok(Buffer.from(again).equals(Buffer.from(bytes)), 'identical bytes');
      });
    }
  });
}
