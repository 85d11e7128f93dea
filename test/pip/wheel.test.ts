// The wheels' tags against auditwheel, pipx and uv tool install, and the Pythons the package refuses. (The
// wheel on every CPython of the machine: wheel-on-older-pythons.test.ts and wheel-on-newer-pythons.test.ts.)
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { envWithoutNode, makeVenv, sh, wheelPath, wheelhouse } from '../support/pip.js';
import { REPO_ROOT, testPythons } from '../support/pythons.js';

const work = mkdtempSync(join(tmpdir(), 'memlens-wheel-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('both wheels are what auditwheel calls manylinux_2_28 or older, for their architecture', () => {
  const tools = join(REPO_ROOT, '.cache', 'build-tools', 'bin', 'python3');
  for (const arch of ['x86_64', 'aarch64']) {
    const r = sh(tools, ['-m', 'auditwheel', 'show', wheelPath(arch)]);
    assert.equal(r.code, 0, r.stderr);
    const m = /consistent with the following platform tag: "manylinux_2_(\d+)_(\w+)"/.exec(r.stdout.replace(/\s+/g, ' '));
    assert.ok(m !== null, r.stdout);
    assert.ok(Number(m[1]) <= 28, `${arch}: ${m[0]}`);
    assert.equal(m[2], arch);
  }
});

// pipx makes its virtualenvs with ensurepip, which in the sid interpreters' host copies takes pip's wheel from
// the host's /usr/share/python-wheels (Debian 12's pip, too old for 3.14 and later): the newest of the others.
const newest = testPythons()
  .filter((p) => !p.system && p.sid !== true)
  .slice(-1)[0];
/** A CPython older than 3.9 (pyenv has several on the test machines), for the refusals. */
function oldPython(): string {
  const dir = join(process.env['HOME'] ?? '/root', '.pyenv', 'versions');
  const found = (existsSync(dir) ? readdirSync(dir) : [])
    .filter((v) => /^3\.[5-8]\./.test(v))
    .sort()
    .reverse()[0];
  assert.ok(found !== undefined, `this test needs a CPython 3.5-3.8 under ${dir} (pyenv install 3.8)`);
  return join(dir, found, 'bin', 'python3');
}

test('pipx install and uv tool install of the wheel give a memlens command that runs without node on PATH', () => {
  assert.ok(newest !== undefined);
  const dir = join(work, 'tools');
  // Two virtualenvs: pipx installs with uv when it finds one, and that one would not read pip's settings.
  const pipxVenv = makeVenv(newest, join(dir, 'pipx-venv'), ['pipx', 'pip']);
  const uvVenv = makeVenv(newest, join(dir, 'uv-venv'), ['uv']);
  const env = envWithoutNode(dir, pipxVenv.bin, {
    PIPX_HOME: join(dir, 'pipx-home'),
    PIPX_BIN_DIR: join(dir, 'pipx-bin'),
    PIP_NO_INDEX: '1',
    PIP_FIND_LINKS: wheelhouse(),
    UV_TOOL_DIR: join(dir, 'uv-tools'),
    UV_TOOL_BIN_DIR: join(dir, 'uv-bin'),
    UV_CACHE_DIR: join(dir, 'uv-cache'),
    UV_PYTHON_DOWNLOADS: 'never',
  });
  const pipx = sh(join(pipxVenv.bin, 'pipx'), ['install', wheelPath()], { env, cwd: dir });
  assert.equal(pipx.code, 0, pipx.stderr + pipx.stdout);
  const uv = sh(join(uvVenv.bin, 'uv'), ['tool', 'install', '--no-index', '--find-links', wheelhouse(), '--python', newest.base, wheelPath()], { env, cwd: dir });
  assert.equal(uv.code, 0, uv.stderr + uv.stdout);
  for (const bin of ['pipx-bin', 'uv-bin']) {
    const v = sh(join(dir, bin, 'memlens'), ['--version'], { env, cwd: dir });
    assert.equal(v.code, 0, `${bin}: ${v.stderr}`);
    assert.match(v.stdout, /^memlens \d/);
  }
});

test('a Python older than 3.9: pip refuses the wheel, and importing memlens says what to do in one line', () => {
  const old = oldPython();
  const dir = join(work, 'old-python');
  const r = sh(old, ['-m', 'venv', join(dir, 'venv')]);
  assert.equal(r.code, 0, r.stderr);
  const pip = sh(join(dir, 'venv', 'bin', 'python'), ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-index', '--find-links', wheelhouse(), wheelPath()]);
  assert.notEqual(pip.code, 0);
  assert.match(pip.stderr + pip.stdout, /requires a different Python|Requires-Python/);
  // The package copied in by hand (or a PYTHONPATH that reaches it): one line from memlens.
  const unpack = join(dir, 'unpacked');
  assert.equal(sh(old, ['-m', 'zipfile', '-e', wheelPath(), unpack]).code, 0);
  const imp = sh(old, ['-c', 'import memlens'], { env: { ...process.env, PYTHONPATH: unpack } });
  assert.notEqual(imp.code, 0);
  const last = imp.stderr.trim().split('\n').pop() ?? '';
  assert.match(last, /^ImportError: memlens needs Python 3\.9 or later; this is 3\.\d: run it with a newer python$/);
});
