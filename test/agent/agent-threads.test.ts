// Threads: dozens of them, three started before tracking (from sitecustomize, which Python imports at
// startup), each allocation attributed to its own thread's stream, stack and name.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Oracle, type OracleAlloc } from '../support/agent-oracle.js';
import { lineOf, memlensRun, tempDir } from '../support/memlens-run.js';
import { bytearraySize, corePythons, label } from '../support/pythons.js';
import { THREADS_PROG, THREADS_SITE } from './programs.js';

function threadNames(o: Oracle): Map<number, string> {
  const names = new Map<number, string>();
  for (const m of o.metas) {
    if (m.type === 'thread') names.set(m.stream, m.name);
    if (m.type === 'thread-name') names.set(m.thread, m.name);
  }
  return names;
}

for (const py of corePythons()) {
  describe(`threads under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);
    let o: Oracle;

    test('runs', async () => {
      const site = join(tmp.dir, 'site');
      mkdirSync(site);
      writeFileSync(join(site, 'sitecustomize.py'), THREADS_SITE);
      const r = await memlensRun({ python: py.python, files: { 'prog.py': THREADS_PROG }, program: ['prog.py'], env: { PYTHONPATH: site } }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      assert.equal(r.stdout, 'ok\n');
      o = await Oracle.load(r.capture);
      assert.deepEqual(o.warnings, []);
    });

    test('each worker allocation is in its own thread, with its name and stack', () => {
      const names = threadNames(o);
      const byStream = new Map<number, OracleAlloc>();
      for (let i = 0; i < 40; i++) {
        const found = o.allocs.filter((a) => a.size === bytearraySize(py, 2_000_000 + i * 1000));
        assert.equal(found.length, 1, `worker ${i}`);
        const a = found[0] as OracleAlloc;
        assert.equal(names.get(a.stream), `worker-${i}`);
        assert.ok(!byStream.has(a.stream), 'one stream per thread');
        byStream.set(a.stream, a);
        const stack = o.stack(a);
        assert.deepEqual(
          stack.map((f) => f.function),
          ['worker', 'run', '_bootstrap_inner', '_memlens_bootstrap_inner', '_bootstrap'],
          "the thread's stack is whole: threading's bootstrap frames and memlens's wrapper are recorded (reports hide them unless --show-internal-frames)",
        );
        assert.equal(stack[0]?.line, lineOf(THREADS_PROG, '# WORKER'));
      }
    });

    test('threads started before tracking are attributed and named too', () => {
      const names = threadNames(o);
      for (let i = 0; i < 3; i++) {
        const found = o.allocs.filter((a) => a.size === bytearraySize(py, 1_100_000 + i * 1000));
        assert.equal(found.length, 1, `early thread ${i}`);
        const a = found[0] as OracleAlloc;
        assert.equal(names.get(a.stream), `early-${i}`);
        const leaf = o.leaf(a);
        assert.equal(leaf?.function, 'early');
        assert.ok(leaf?.file.endsWith('sitecustomize.py'));
        assert.equal(leaf?.line, lineOf(THREADS_SITE, '# EARLY'));
      }
      const main = o.allocs.filter((a) => a.size === bytearraySize(py, 3_333_333));
      assert.equal(main.length, 1);
      assert.equal(names.get((main[0] as OracleAlloc).stream), 'MainThread');
    });

    test('every thread that ended has THREAD_EXIT, and live bytes are right across threads', () => {
      const exits = new Set(o.records('thread-exit').map((r) => r.stream));
      const names = threadNames(o);
      for (const [stream, name] of names) {
        if (name.startsWith('worker-') || name.startsWith('early-')) assert.ok(exits.has(stream), `${name} has THREAD_EXIT`);
      }
      const r = o.replay('heap', o.programEndSeq());
      let kept = 0;
      for (const a of r.live.values()) if (a.size >= bytearraySize(py, 1_100_000) && a.size <= bytearraySize(py, 3_333_333)) kept += a.size;
      let expected = bytearraySize(py, 3_333_333);
      for (let i = 0; i < 40; i++) expected += bytearraySize(py, 2_000_000 + i * 1000);
      for (let i = 0; i < 3; i++) expected += bytearraySize(py, 1_100_000 + i * 1000);
      assert.equal(kept, expected);
    });
  });
}
