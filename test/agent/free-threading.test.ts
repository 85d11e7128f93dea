// Free-threaded CPython (3.13t and later, built by the test setup): threads run Python truly in parallel,
// Python's objects come from mimalloc (recorded in every mode, see pyalloc.c), and memlens must never turn
// the GIL back on (an extension module that does not declare free-threading support does, silently).
// Eight threads meet at a barrier, then each allocates bytearrays of sizes no other thread uses from its
// own function: every allocation must be in its own thread's stream, under its own function and line, in
// every mode, and sys._is_gil_enabled() must stay False throughout.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Oracle, type OracleAlloc } from '../support/agent-oracle.js';
import { lineOf, memlensRun, tempDir } from '../support/memlens-run.js';
import { bytearraySize, label, testPythons } from '../support/pythons.js';

const THREADS = 8;
const EACH = 150;

/** Thread t's j-th allocation asks for this many bytes (distinct across threads and allocations). */
const request = (t: number, j: number): number => 200_000 + t * 10_000 + j * 7;

// One function per thread (made with exec), so that a stack mixed up between threads shows as a wrong name.
const PARALLEL = `import sys, threading, time

THREADS, EACH = ${THREADS}, ${EACH}
KEEP = [[] for _ in range(THREADS)]
barrier = threading.Barrier(THREADS)
gil_seen = []
spans = [None] * THREADS

SOURCE = """
def alloc_{t}(keep, j):
    keep.append(bytearray(200_000 + {t} * 10_000 + j * 7))  # ALLOC
"""
for t in range(THREADS):
    exec(compile(SOURCE.format(t=t), __file__, "exec"))


def worker(t):
    alloc = globals()["alloc_%d" % t]
    keep = KEEP[t]
    barrier.wait()
    start = time.perf_counter()
    for j in range(EACH):
        alloc(keep, j)
        if j == EACH // 2:
            gil_seen.append(sys._is_gil_enabled())
    spans[t] = (start, time.perf_counter())


threads = [threading.Thread(target=worker, args=(t,), name="par-%d" % t) for t in range(THREADS)]
for th in threads:
    th.start()
for th in threads:
    th.join()
print("gil", sys._is_gil_enabled(), any(gil_seen))
`;

const ftPythons = testPythons().filter((p) => p.freeThreaded);

test('a free-threaded CPython is among the test interpreters', () => {
  assert.ok(ftPythons.length > 0, "no free-threaded build in .cache/pythons.json: run node scripts/setup-test-env.mjs (it builds 3.13t from Debian's source)");
});

// Below the thread's function: threading's frames and the session's wrapper between them (recorded; reports
// hide them unless --show-internal-frames).
const THREAD_ROOT = ['worker', 'run', '_bootstrap_inner', '_memlens_bootstrap_inner', '_bootstrap'];

for (const py of ftPythons) {
  describe(`free-threaded CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);

    for (const runArgs of [[], ['--native'], ['--trace-python-allocators'], ['--aggregate']]) {
      const mode = runArgs.join(' ') || 'default';
      test(`${mode}: parallel threads' allocations each in their own thread, function and line; the GIL stays off`, async () => {
        const r = await memlensRun({ python: py.python, files: { 'par.py': PARALLEL }, program: ['par.py'], runArgs, output: `par-${mode.replace(/\W/g, '')}.mlens` }, tmp.dir);
        assert.equal(r.stderr, '');
        assert.equal(r.code, 0);
        assert.equal(r.stdout, 'gil False False\n', 'sys._is_gil_enabled() is False at the end and while the threads allocated');
        const o = await Oracle.load(r.capture);
        assert.deepEqual(o.warnings, []);
        const names = new Map<number, string>();
        for (const m of o.metas) {
          if (m.type === 'thread') names.set(m.stream, m.name);
          if (m.type === 'thread-name') names.set(m.thread, m.name);
        }
        // The line inside SOURCE (its first line is the empty one after the quotes).
        const line = lineOf(PARALLEL, '# ALLOC') - lineOf(PARALLEL, 'SOURCE = """') + 1;
        if (runArgs.includes('--aggregate')) {
          // Locations, not events: each thread's function has all its bytes live at the end, in its thread.
          const byThread = new Map<string, number>();
          for (const e of o.checkpointState().locations.values()) {
            const stack = o.stackOfNode(e.stream, e.stack);
            const m = /^alloc_(\d)$/.exec(stack[0]?.function ?? '');
            if (m === null || stack[0]?.line !== line) continue;
            assert.equal(names.get(e.stream), `par-${m[1]}`, `alloc_${m[1]} ran in par-${m[1]}`);
            assert.deepEqual(
              stack.slice(1).map((f) => f.function),
              THREAD_ROOT,
            );
            byThread.set(m[1]!, (byThread.get(m[1]!) ?? 0) + e.liveBytes);
          }
          for (let t = 0; t < THREADS; t++) {
            let want = 0;
            for (let j = 0; j < EACH; j++) want += bytearraySize(py, request(t, j));
            const got = byThread.get(String(t)) ?? 0;
            // The bytearray objects themselves are recorded too (mimalloc): at most a few hundred bytes each.
            assert.ok(got >= want && got < want + EACH * 256, `thread ${t}: ${got} live bytes, ${want} in buffers`);
          }
          return;
        }
        for (let t = 0; t < THREADS; t++) {
          for (let j = 0; j < EACH; j++) {
            const found = o.allocs.filter((a) => a.size === bytearraySize(py, request(t, j)));
            assert.equal(found.length, 1, `thread ${t}, allocation ${j}`);
            const a = found[0] as OracleAlloc;
            assert.equal(names.get(a.stream), `par-${t}`, `thread ${t}, allocation ${j}: its own stream`);
            const stack = o.stack(a);
            assert.deepEqual(
              stack.slice(0, 2).map((f) => [f.function, f.line]),
              [
                [`alloc_${t}`, line],
                ['worker', lineOf(PARALLEL, '        alloc(keep, j)')],
              ],
              `thread ${t}, allocation ${j}: its stack`,
            );
            assert.deepEqual(
              stack.slice(1).map((f) => f.function),
              THREAD_ROOT,
              `thread ${t}, allocation ${j}: its stack`,
            );
            if (runArgs.includes('--native')) assert.ok(a.nativeStack > 0, 'a native stack');
          }
        }
        // Nothing lost or counted twice: the kept buffers are live at the program's end, once each.
        const live = o.replay('heap', o.programEndSeq()).live;
        let kept = 0;
        for (const a of live.values()) if (a.size >= bytearraySize(py, request(0, 0)) && a.size <= bytearraySize(py, request(THREADS - 1, EACH - 1))) kept += a.size;
        let want = 0;
        for (let t = 0; t < THREADS; t++) for (let j = 0; j < EACH; j++) want += bytearraySize(py, request(t, j));
        assert.equal(kept, want);
      });
    }
  });
}
