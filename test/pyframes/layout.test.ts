// The hard-coded layouts of agent/src/pylayout.h (3.9–3.12), the mirrors of _Py_DebugOffsets (3.13–3.15)
// and the layout pyframes.c derives from a table, checked with offsetof() against the headers of every
// installed CPython (agent/test/layout_check.c). From 3.13 on the same headers are also compiled with
// Py_GIL_DISABLED: the free-threaded layout of each version, whether or not a free-threaded build of it is
// installed (3.13t is, built by the test setup).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AGENT_SRC, AGENT_TEST, compile, includeFlags, label, removeDir, STRICT_CFLAGS, supportedPythons, tempDir } from './support.js';

const dir = tempDir('memlens-layout-');
after(() => removeDir(dir));

const pythons = supportedPythons();

test('a CPython with headers is installed', () => {
  assert.ok(
    pythons.some((p) => p.include !== undefined),
    'no CPython >= 3.9 with headers found (pyenv versions or /usr/include/python3.X)',
  );
});

for (const p of pythons.filter((q) => q.minor <= 15)) {
  const modes = p.minor >= 13 && !p.freeThreaded ? [false, true] : [p.freeThreaded];
  for (const freeThreaded of modes) {
    const what = freeThreaded && !p.freeThreaded ? `the headers of CPython ${label(p)} with Py_GIL_DISABLED` : `the headers of CPython ${label(p)}`;
    test(`pylayout.h matches ${what}`, () => {
      const include = p.include;
      assert.ok(include !== undefined, `CPython ${label(p)} has no headers (Python.h): install them to check its layout`);
      const exe = join(dir, `layout_check_${p.version}${p.system ? '_system' : ''}${p.freeThreaded ? 't' : ''}${freeThreaded ? '_ft' : ''}`);
      const cc = compile([
        ...STRICT_CFLAGS,
        ...(freeThreaded && !p.freeThreaded ? ['-DPy_GIL_DISABLED=1'] : []),
        ...includeFlags(include),
        join(AGENT_TEST, 'layout_check.c'),
        join(AGENT_SRC, 'pyframes.c'),
        '-ldl',
        '-o',
        exe,
      ]);
      assert.equal(cc.status, 0, `compiling layout_check.c against ${include} failed:\n${cc.stderr}`);
      const run = spawnSync(exe, [], { encoding: 'utf8' });
      assert.equal(run.status, 0, `layout_check for ${what} found mismatches:\n${run.stdout}${run.stderr}`);
      assert.match(run.stdout, new RegExp(`^ok \\d+ checks for CPython ${p.version.replace(/\./g, '\\.')}${freeThreaded ? ' \\(free-threaded\\)' : '\\n'}`));
    });
  }
}
