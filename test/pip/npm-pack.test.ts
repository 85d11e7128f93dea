// npm stays a first-class channel: `npm pack`, then `npm install -g` of the tarball into an empty prefix
// (the package's install step builds the agent with the machine's compiler), then the command runs a
// program and reports on it.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { sh } from '../support/pip.js';
import { REPO_ROOT, testPythons } from '../support/pythons.js';

const work = mkdtempSync(join(tmpdir(), 'memlens-npm-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('npm pack, then npm install -g into an empty prefix: memlens runs a program', () => {
  // The test run built dist/ already; packing must not rebuild it under the other tests' feet.
  const pack = sh('npm', ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: REPO_ROOT });
  assert.equal(pack.code, 0, pack.stderr);
  const tarball = readdirSync(work).find((f) => /^memlens-.*\.tgz$/.test(f));
  assert.ok(tarball !== undefined, pack.stdout);
  const prefix = join(work, 'prefix');
  mkdirSync(prefix);
  const install = sh('npm', ['install', '-g', '--prefix', prefix, join(work, tarball)], { cwd: work });
  assert.equal(install.code, 0, install.stderr);
  const memlens = join(prefix, 'bin', 'memlens');
  const version = sh(memlens, ['--version']);
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, /^memlens \d+\.\d+\.\d+\n$/);
  const py = testPythons()[0];
  assert.ok(py !== undefined);
  const capture = join(work, 'npm.mlens');
  const run = sh(memlens, ['run', '-q', '--python', py.python, '-o', capture, join(REPO_ROOT, 'test', 'pip', 'programs', 'known_alloc.py')], { cwd: work });
  assert.equal(run.code, 0, run.stderr);
  const summary = sh(memlens, ['summary', capture], { cwd: work, env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(summary.code, 0, summary.stderr);
  assert.match(summary.stdout, /make_peak at .*known_alloc\.py:\d+/);
});
