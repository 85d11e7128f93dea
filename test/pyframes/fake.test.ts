// pyframes.c against a fake CPython 3.13, 3.14 and 3.15, GIL and free-threaded, built by hand in memory
// (agent/test/fake_cpython.c): shim and incomplete frames of every kind, a thread running its own copy of
// the bytecode (free-threaded 3.14+, of which no build is installed here), free-threaded reference counts,
// cycles, wild pointers, odd strings, and refusals of debug-offset tables of another shape.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AGENT_SRC, AGENT_TEST, compile, removeDir, STRICT_CFLAGS, tempDir } from './support.js';

const dir = tempDir('memlens-fake-');
after(() => removeDir(dir));

test('pyframes.c reads a fake CPython 3.13 to 3.15, GIL and free-threaded, and refuses malformed runtimes', () => {
  const exe = join(dir, 'fake_cpython');
  // -rdynamic: pyframes.c finds the fake _PyRuntime, type objects and PyGILState_GetThisThreadState with dlsym
  const cc = compile([...STRICT_CFLAGS, '-rdynamic', join(AGENT_TEST, 'fake_cpython.c'), join(AGENT_SRC, 'pyframes.c'), '-ldl', '-o', exe]);
  assert.equal(cc.status, 0, `building fake_cpython.c failed:\n${cc.stderr}`);
  const run = spawnSync(exe, [], { encoding: 'utf8' });
  assert.equal(run.status, 0, `fake_cpython failed:\n${run.stdout}${run.stderr}`);
  assert.match(run.stdout, /^ok \d+ checks/);
});
