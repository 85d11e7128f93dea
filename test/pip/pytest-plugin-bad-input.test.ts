// The pytest plugin's bad inputs: a limit that does not parse, and pytest-memray installed next to it.
// (The plugin on the sample suite: pytest-plugin.test.ts.)
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type Run, type Venv, makeVenv, pytestIn, sampleProject, wheelPath } from '../support/pip.js';
import { testPythons } from '../support/pythons.js';

const work = mkdtempSync(join(tmpdir(), 'memlens-pytest-bad-test-'));
after(() => rmSync(work, { recursive: true, force: true }));
const pythons = testPythons().filter((p) => !p.system);
const newest = pythons[pythons.length - 1];

const project = (name: string): string => sampleProject(work, name);
const pytest = (venv: Venv, cwd: string, args: readonly string[]): Run => pytestIn(venv, work, cwd, args);

test('a limit that does not parse, as a marker or as the default: one line that says how to write it', () => {
  assert.ok(newest !== undefined);
  const venv = makeVenv(newest, join(work, 'venv-bad'), [wheelPath(), 'pytest']);
  const dir = project('bad-limit');
  writeFileSync(join(dir, 'tests', 'test_bad.py'), 'import pytest\n\n@pytest.mark.limit_memory("24 Mb?")\ndef test_x():\n    pass\n');
  const r = pytest(venv, dir, ['--memlens', 'tests/test_bad.py']);
  assert.equal(r.code, 4, r.stdout + r.stderr);
  assert.equal(r.stderr.trim(), `ERROR: tests/test_bad.py::test_x: @pytest.mark.limit_memory: '24 Mb?' is not a size: write a number and a unit, like '24 MB', '512 KiB' or '100 B'`);
  const d = pytest(venv, dir, ['--memlens', '--memlens-limit-memory', 'lots', 'tests/test_more.py']);
  assert.equal(d.code, 4, d.stdout + d.stderr);
  assert.equal(d.stderr.trim(), `ERROR: --memlens-limit-memory: 'lots' is not a size: write a number and a unit, like '24 MB', '512 KiB' or '100 B'`);
  // Without --memlens the markers do nothing, as pytest-memray's: the suite passes.
  const off = pytest(venv, dir, ['tests/test_more.py', '-k', 'sizes']);
  assert.equal(off.code, 0, off.stdout);
});

test('next to pytest-memray: --memlens works alone, and with --memray says to keep one', () => {
  assert.ok(newest !== undefined);
  const venv = makeVenv(newest, join(work, 'venv-memray'), [wheelPath(), 'pytest', 'pytest-memray']);
  const dir = project('with-memray');
  const both = pytest(venv, dir, ['--memlens', '--memray', 'tests/test_more.py']);
  assert.equal(both.code, 4, both.stdout + both.stderr);
  assert.equal(both.stderr.trim(), 'ERROR: --memlens and --memray both track allocations and cannot run together: keep one (pytest-memray may stay installed)');
  const alone = pytest(venv, dir, ['--memlens', 'tests/test_limits.py::test_over_memory_limit', 'tests/test_limits.py::test_under_memory_limit']);
  assert.equal(alone.code, 1, alone.stdout + alone.stderr);
  assert.match(alone.stdout, /memlens: the test used 1[23]\.\d MiB at its peak, over its limit of 4\.0 MiB/);
  assert.match(alone.stdout, /1 failed, 1 passed/);
});
