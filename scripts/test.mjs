#!/usr/bin/env node
// The whole test suite: build, lint, set up the test environment (Python venvs with numpy for every
// CPython >= 3.9 on the machine, browser), then run every *.test.js under dist/ with node:test.
// Usage: npm test [-- PATTERN...]   (patterns filter test files by substring)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);

function step(name, cmd, args, opts = {}) {
  const t0 = Date.now();
  console.error(`\n── ${name}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) {
    console.error(`── ${name}: FAILED (${r.error?.message ?? `exit ${r.status ?? r.signal}`}, ${secs}s)`);
    process.exit(r.status || 1);
  }
  console.error(`── ${name}: ok (${secs}s)`);
}

function findTests(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (entry.endsWith('.test.js')) out.push(p);
  }
  return out;
}

step('build', 'npm', ['run', '--silent', 'build']);
step('agent', process.execPath, ['scripts/build-agent.mjs']);
if (filters.length === 0) step('lint', 'npm', ['run', '--silent', 'lint']); // eslint, then prettier --check
step('test environment', process.execPath, ['scripts/setup-test-env.mjs']);

const tests = findTests(join(root, 'dist'))
  .map((p) => relative(root, p))
  .filter((p) => filters.length === 0 || filters.some((f) => p.includes(f)))
  .sort();
if (tests.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// The Python distribution, built once for all the tests that install it (test/pip/).
if (tests.some((p) => p.startsWith(join('dist', 'test', 'pip')))) step('python packages', process.execPath, ['scripts/build-wheel.mjs']);
// --single-threaded: node can hang at exit otherwise (src/util/node-flags.ts); the runner passes it to
// every test file's process.
// --test-timeout bounds a whole file (a guard against hangs, not a speed rule): the process-level files run
// several test interpreters (attach.test attaches to every one, 3.9 to 3.15 and free-threaded builds), which
// takes it past five minutes on a busy machine.
step(`tests (${tests.length} files)`, process.execPath, ['--single-threaded', '--test', '--test-concurrency=2', '--test-timeout=900000', '--test-reporter=spec', ...tests], {
  env: { ...process.env, MEMLENS_TEST: '1' },
});
