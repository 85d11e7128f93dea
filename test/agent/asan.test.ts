// The agent built with AddressSanitizer (MEMLENS_AGENT_SANITIZE=address) inside real Pythons: the
// allocation, thread, deep-stack and fork programs must run clean. ASan's runtime is preloaded into the
// Python process only (a wrapper script is memlens's --python), never into memlens itself.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Oracle } from '../support/agent-oracle.js';
import { memlensRun, tempDir } from '../support/memlens-run.js';
import { label, REPO_ROOT, testPythons } from '../support/pythons.js';
import { ALLOC_PROG, DEEP_PROG, FORK_PROG, REGROW_PROG, SAME_TOP_PROG, THREADS_PROG, THREADS_SITE } from './programs.js';

function asanRuntime(): string {
  const r = spawnSync(process.env['CC'] ?? 'cc', ['-print-file-name=libasan.so'], { encoding: 'utf8' });
  const path = r.stdout.trim();
  assert.ok(r.status === 0 && path.startsWith('/') && existsSync(path), `the C compiler does not know libasan.so (${path})`);
  return path;
}

// The oldest and the newest CPython: the two ends of the layouts pyframes.c reads.
const all = testPythons().filter((p) => !p.system);
const pythons = [all[0], all[all.length - 1]].filter((p, i, a) => p !== undefined && a.indexOf(p) === i);

describe('the agent under AddressSanitizer', () => {
  const tmp = tempDir();
  after(tmp.remove);
  const env = { MEMLENS_AGENT_SANITIZE: 'address' };

  before(() => {
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-agent.mjs')], { env: { ...process.env, ...env }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });

  for (const py of pythons) {
    if (py === undefined) continue;
    const wrapper = join(tmp.dir, `python-asan-${py.version}`);
    const prepare = (): void => {
      writeFileSync(wrapper, `#!/bin/sh\nLD_PRELOAD=${asanRuntime()} ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1 exec ${py.python} "$@"\n`);
      chmodSync(wrapper, 0o755);
    };

    test(`allocations, threads, deep and regrown stacks and forks under CPython ${label(py)}`, async () => {
      prepare();
      const dir = join(tmp.dir, py.version);
      mkdirSync(join(dir, 'site'), { recursive: true });
      writeFileSync(join(dir, 'site', 'sitecustomize.py'), THREADS_SITE);
      const mappings = readFileSync(join(REPO_ROOT, 'test', 'programs', 'mappings.py'), 'utf8');
      const runs: [string, string, readonly string[], Record<string, string>, string?][] = [
        ['alloc.py', ALLOC_PROG, [], {}],
        ['threads.py', THREADS_PROG, [], { PYTHONPATH: join(dir, 'site') }],
        ['deep.py', DEEP_PROG, ['--native'], {}],
        // Deep stacks through the walk cache on every event, regrown to the same frame addresses.
        ['regrow.py', REGROW_PROG, ['--trace-python-allocators'], {}],
        ['same_top.py', SAME_TOP_PROG, ['--trace-python-allocators'], {}],
        ['fork.py', FORK_PROG, ['--follow-fork', '--trace-python-allocators'], {}],
        ['aggregated.py', THREADS_PROG, ['--aggregate', '--trace-python-allocators'], { PYTHONPATH: join(dir, 'site') }],
        // Mappings split, replaced and moved: aggregated mode's table of pieces.
        ['mappings.py', mappings, ['--aggregate'], {}, 'cases'],
      ];
      for (const [name, source, runArgs, extraEnv, arg] of runs) {
        const program = arg === undefined ? [name] : [name, arg];
        const r = await memlensRun({ python: wrapper, files: { [name]: source }, program, output: `${name}.mlens`, runArgs, env: { ...env, ...extraEnv } }, dir);
        assert.doesNotMatch(r.stderr, /AddressSanitizer/, `${name}: ${r.stderr}`);
        assert.equal(r.code, 0, `${name}: ${r.stderr}`);
        const o = await Oracle.load(r.capture);
        assert.deepEqual(o.warnings, []);
        assert.equal(o.records('trailer').length, 1, name);
        assert.ok(o.allocs.length > 0 || o.records('checkpoint').length > 0, name);
      }
    });
  }
});
