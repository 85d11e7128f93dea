// Thread names over time, on every CPython: a thread renamed with prctl(PR_SET_NAME) (through ctypes, so
// through the agent's dlsym hook), then through `Thread.name =`, and the main thread renamed with
// pthread_setname_np: each buffer is attributed to the name in effect when it was allocated, and the
// thread is still counted once.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { loadModel } from '../src/cli/load-model.js';
import { threadLabel } from '../src/model/thread-name.js';
import type { SiteId } from '../src/model/ids.js';
import { statistics } from '../src/analysis/statistics.js';
import { memlensRun, tempDir } from './support/memlens-run.js';
import { memoryIo } from './support/memory-io.js';
import { label, testPythons } from './support/pythons.js';

const PROGRAM = `
import ctypes, threading
libc = ctypes.CDLL(None, use_errno=True)
libc.pthread_self.restype = ctypes.c_ulong
libc.pthread_setname_np.argtypes = [ctypes.c_ulong, ctypes.c_char_p]
KEEP = []

def worker():
    KEEP.append(bytearray(1_100_000))  # as "first-name"
    assert libc.prctl(15, b"by-prctl", 0, 0, 0) == 0
    KEEP.append(bytearray(2_200_000))  # as "by-prctl"
    threading.current_thread().name = "by-thread-name-setter"
    KEEP.append(bytearray(3_300_000))  # as "by-thread-name-setter"

t = threading.Thread(target=worker, name="first-name")
t.start()
t.join()
KEEP.append(bytearray(4_400_000))  # as the main thread's first name
assert libc.pthread_setname_np(libc.pthread_self(), b"main-renamed") == 0
KEEP.append(bytearray(5_500_000))  # as "main-renamed"
`;

const work = tempDir('memlens-renames-');
after(work.remove);

for (const py of testPythons()) {
  test(`renamed threads: allocations go to the name in effect (CPython ${label(py)})`, async () => {
    const r = await memlensRun({ python: py.python, files: { 'renames.py': PROGRAM }, program: ['renames.py'], output: `renames-${py.version}${py.system ? '-sys' : ''}.mlens` }, work.dir);
    assert.equal(r.code, 0, r.stderr);
    const model = await loadModel(memoryIo(), r.capture);
    const nameOf = (bytes: number): string[] => {
      const names = new Set<string>();
      const total = model.sites.columns.totalBytes.array;
      for (let s = 0; s < model.sites.size; s++) {
        // bytearray(n) asks for n + 1 bytes (its trailing NUL).
        if (total[s]! >= bytes && total[s]! < bytes + 4096) names.add(model.threads[model.sites.thread(s as SiteId)]!.name);
      }
      return [...names];
    };
    assert.deepEqual(nameOf(1_100_000), ['first-name']);
    assert.deepEqual(nameOf(2_200_000), ['by-prctl']);
    assert.deepEqual(nameOf(3_300_000), ['by-thread-name-setter']);
    assert.deepEqual(nameOf(4_400_000), ['MainThread']);
    assert.deepEqual(nameOf(5_500_000), ['main-renamed']);
    // A list of threads shows both names; the threads are counted once each.
    const labels = model.threads.map((t) => threadLabel(model, t));
    assert.ok(
      labels.some((l) => /^by-prctl \(renamed from first-name at \d/.test(l)),
      labels.join(' | '),
    );
    assert.equal(statistics(model).threads, 2, labels.join(' | '));
  });
}
