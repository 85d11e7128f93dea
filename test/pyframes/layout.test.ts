// The hard-coded layouts of agent/src/pylayout.h (3.9–3.12) and the mirror of _Py_DebugOffsets (3.13),
// checked with offsetof() against the headers of every installed CPython (agent/test/layout_check.c).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AGENT_SRC, AGENT_TEST, compile, label, removeDir, STRICT_CFLAGS, supportedPythons, tempDir } from './support.js';

const dir = tempDir('memlens-layout-');
after(() => removeDir(dir));

const pythons = supportedPythons();

test('a CPython with headers is installed', () => {
  assert.ok(
    pythons.some((p) => p.include !== undefined),
    'no CPython >= 3.9 with headers found (pyenv versions or /usr/include/python3.X)',
  );
});

// 3.14 has no table to check here: it is not installed, and pyframes.c validates its _Py_DebugOffsets at run time.
for (const p of pythons.filter((q) => q.minor <= 13)) {
  test(`pylayout.h matches the headers of CPython ${label(p)}`, () => {
    const include = p.include;
    assert.ok(include !== undefined, `CPython ${label(p)} has no headers (Python.h): install them to check its layout`);
    const exe = join(dir, `layout_check_${p.version}${p.system ? '_system' : ''}`);
    const cc = compile([
      ...STRICT_CFLAGS,
      `-I${include}`,
      `-I${join(include, 'internal')}`,
      join(AGENT_TEST, 'layout_check.c'),
      join(AGENT_SRC, 'pyframes.c'),
      '-ldl',
      '-o',
      exe,
    ]);
    assert.equal(cc.status, 0, `compiling layout_check.c against ${include} failed:\n${cc.stderr}`);
    const run = spawnSync(exe, [], { encoding: 'utf8' });
    assert.equal(run.status, 0, `layout_check for ${label(p)} found mismatches:\n${run.stdout}${run.stderr}`);
    assert.match(run.stdout, new RegExp(`^ok \\d+ checks for CPython ${p.version.replace(/\./g, '\\.')}`));
  });
}
