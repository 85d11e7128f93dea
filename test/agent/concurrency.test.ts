// Threads that really allocate at the same time (ctypes releases the GIL around foreign calls) and free
// each other's blocks: in seq order, every free comes before the next allocation of the same address (a
// free is recorded before the memory goes back, an allocation after it is obtained), nothing is lost, and
// the live bytes at the end are exactly what the program kept.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Oracle, type OracleAlloc } from '../support/agent-oracle.js';
import { memlensRun, tempDir } from '../support/memlens-run.js';
import { corePythons, label } from '../support/pythons.js';

const CHURN = `import ctypes, threading, collections

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
shared = collections.deque()
kept = []
N_THREADS, N = 8, 20000


def churn(t):
    for i in range(N):
        p = libc.malloc(3000 + (t * 131 + i) % 997)
        shared.append(p)
        if len(shared) > 64:
            try:
                libc.free(shared.popleft())
            except IndexError:
                pass
    kept.append(libc.malloc(4000 + t))


threads = [threading.Thread(target=churn, args=(t,)) for t in range(N_THREADS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
while shared:
    libc.free(shared.popleft())
print("ok")
`;

for (const py of corePythons()) {
  describe(`concurrent allocation under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);

    test('cross-thread frees stay in order', async () => {
      const r = await memlensRun({ python: py.python, files: { 'churn.py': CHURN }, program: ['churn.py'], output: 'churn.mlens' }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      assert.deepEqual(o.warnings, []);
      // The churn's blocks are the sizes it asks for, made from churn() itself: the imports the program runs
      // under tracking (ctypes, and on some versions operator and the compiler) malloc blocks of such sizes too.
      const sized = (size: number): boolean => (size >= 3000 && size < 3997) || (size >= 4000 && size < 4008);
      const churns = (a: OracleAlloc): boolean => a.domain === 'native' && sized(a.size) && o.stack(a).some((f) => f.function === 'churn');
      // ctypes' malloc: the system allocator's events (a free-threaded build's objects are in Python's).
      const mine = o.allocs.filter(churns);
      assert.equal(mine.filter((a) => a.size < 3997).length, 8 * 20000, 'every malloc of the churn');
      const churnSeqs = new Set(mine.map((a) => a.seq));
      const live = new Map<number, boolean>(); // address -> whether the churn made the block
      let reusedWhileLive = 0;
      let ourFreesSeen = 0;
      for (const e of o.ordered()) {
        if (e.domain !== 'native') continue;
        if (e.kind === 'alloc') {
          const ours = churnSeqs.has(e.seq);
          if (live.has(e.address) && ours) reusedWhileLive++;
          live.set(e.address, ours);
        } else {
          if (live.get(e.address) === true) ourFreesSeen++;
          live.delete(e.address);
        }
      }
      assert.equal(reusedWhileLive, 0, 'no address is handed out again before its free (in seq order)');
      assert.equal(ourFreesSeen, 8 * 20000, 'every free of the churn matches its allocation');
      const keptBytes = mine.filter((a) => live.get(a.address) === true && a.size >= 4000).reduce((n, a) => n + a.size, 0);
      assert.equal(keptBytes, 8 * 4000 + (0 + 1 + 2 + 3 + 4 + 5 + 6 + 7));
      const streams = new Set(mine.map((a) => a.stream));
      assert.equal(streams.size, 8, 'one stream per thread');
    });
  });
}
