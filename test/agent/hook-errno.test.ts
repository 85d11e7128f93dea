// The program's errno survives Python's allocator hooks. The recording path of a free saves and restores
// errno only on its slow paths (a thread's first event, a full block's flush, a contended lock, aggregated
// mode): its common path sets it nowhere, by construction (agent/src/record.c). An allocation's path keeps
// it around the stack walk. Checked from Python through ctypes, whose use_errno calls put ctypes' copy of
// errno in place right before the foreign call and read it back right after: PyObject_Malloc and
// PyObject_Free called that way pass through the hooks and nothing else between the two.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { finished, memlensRun, tempDir } from '../support/memlens-run.js';
import { corePythons, label } from '../support/pythons.js';

// 40,000 blocks allocated and freed: several 32 KiB blocks of records, so full blocks are flushed on the
// program's thread in the middle of the loop. Prints how many calls changed errno and the first few.
const ERRNO = `import ctypes

api = ctypes.PyDLL(None, use_errno=True)
malloc = api.PyObject_Malloc
malloc.restype = ctypes.c_void_p
malloc.argtypes = [ctypes.c_size_t]
free = api.PyObject_Free
free.restype = None
free.argtypes = [ctypes.c_void_p]

bad = []
for i in range(40000):
    want = 1000 + i % 97
    ctypes.set_errno(want)
    p = malloc(16 + i % 300)
    got_malloc = ctypes.get_errno()
    ctypes.set_errno(want + 1)
    free(p)
    got_free = ctypes.get_errno()
    if got_malloc != want or got_free != want + 1:
        bad.append((i, want, got_malloc, got_free))
print(len(bad), bad[:3])
`;

for (const py of corePythons()) {
  describe(`errno through Python's allocator hooks under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);
    writeFileSync(join(tmp.dir, 'errno_kept.py'), ERRNO);

    test('the program alone keeps it (the check itself is sound)', async () => {
      const r = await finished(spawn(py.python, ['errno_kept.py'], { cwd: tmp.dir, stdio: ['ignore', 'pipe', 'pipe'] }));
      assert.equal(r.stderr, '');
      assert.equal(r.stdout.trim(), '0 []');
    });

    for (const [name, runArgs] of [
      ['with --trace-python-allocators', ['--trace-python-allocators']],
      ['with --trace-python-allocators, sampled', ['--trace-python-allocators', '--sample-rate', '1K']],
    ] as const) {
      test(name, async () => {
        const r = await memlensRun({ python: py.python, program: ['errno_kept.py'], runArgs, output: `${runArgs.length}.mlens` }, tmp.dir);
        assert.equal(r.stderr, '');
        assert.equal(r.code, 0);
        assert.equal(r.stdout.trim(), '0 []');
      });
    }
  });
}
