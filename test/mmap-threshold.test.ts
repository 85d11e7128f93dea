// The reports' fixed mmap threshold (docs/mmap-threshold.md, src/util/malloc-tuning.ts): a report process
// has the library loaded and glibc's threshold fixed (a large buffer is then a mapping of its own, where
// glibc's own threshold, raised by a larger one freed, takes it from the brk heap); a package without the
// library, or with a file that is no library, still reports; and the program `memlens run` starts sees
// nothing of it (no variable in its environment, no library in its maps), nor does `memlens run` itself.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MMAP_LIBRARY } from '../src/util/malloc-tuning.js';
import { NODE_FLAGS } from '../src/util/node-flags.js';
import { memlensRun } from './support/memlens-run.js';
import { REPO_ROOT, testPythons } from './support/pythons.js';

const work = mkdtempSync(join(tmpdir(), 'memlens-mmap-threshold-'));
after(() => rmSync(work, { recursive: true, force: true }));
const CAPTURE = join(REPO_ROOT, 'test', 'fixtures', 'captures', 'realistic-small.mlens');

// Preloaded into a node process (-r): at its exit, whether the library is mapped, and where a 4 MiB buffer
// comes from once a 24 MiB one was freed. glibc's own threshold is then at least 24 MiB (raised by that free,
// or above it already), so the 4 MiB comes from the brk heap ([heap], left out of the sum); at a fixed
// 1 MiB it is a mapping of its own, and the anonymous mappings grow by its size.
const PROBE = join(work, 'probe.cjs');
writeFileSync(
  PROBE,
  `'use strict';
const { readFileSync, writeSync } = require('node:fs');
function anonymous() {
  let total = 0;
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\\n')) {
    const f = line.trim().split(/\\s+/);
    // Reserved address space (no access: ---p) is left out: a thread's first malloc reserves a 64 MiB arena,
    // and V8 reserves ahead, at any moment of the probe (ci-93: +64 MiB in a plain node). Only what can hold data.
    if (f.length !== 5 || f[1].startsWith('---')) continue;
    const [a, b] = f[0].split('-').map((x) => parseInt(x, 16));
    total += b - a;
  }
  return total;
}
process.on('exit', () => {
  const loaded = readFileSync('/proc/self/maps', 'utf8').includes('/libmemlens_mmap.so');
  require('node:v8').setFlagsFromString('--expose-gc');
  const gc = require('node:vm').runInNewContext('gc');
  let big = new Uint8Array(24 << 20);
  big[0] = 1;
  big = null;
  gc();
  gc();
  const before = anonymous();
  const kept = new Uint8Array(4 << 20);
  kept.fill(1);
  writeSync(2, 'PROBE ' + JSON.stringify({ loaded, grown: anonymous() - before, kept: kept.length }) + '\\n');
});
`,
);

interface Probe {
  readonly code: number | null;
  readonly stdout: string;
  readonly loaded: boolean;
  /** How much the anonymous mappings grew by the 4 MiB buffer, in bytes. */
  readonly grown: number;
}

function probed(args: readonly string[]): Probe {
  const r = spawnSync(process.execPath, [...NODE_FLAGS, '-r', PROBE, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const line = /^PROBE (.*)$/m.exec(r.stderr);
  assert.ok(line !== null, `no probe line; stderr: ${r.stderr}`);
  const p = JSON.parse(line[1] as string) as { loaded: boolean; grown: number };
  return { code: r.status, stdout: r.stdout, ...p };
}

const MIB = 1 << 20;

test('the library is built beside the agent, and a report process has it loaded, its 4 MiB buffer a mapping of its own', () => {
  assert.ok(existsSync(MMAP_LIBRARY), `${MMAP_LIBRARY} is missing: node scripts/build-agent.mjs builds it`);
  const report = probed([join(REPO_ROOT, 'bin', 'memlens.js'), 'summary', CAPTURE]);
  assert.equal(report.code, 0);
  assert.equal(report.loaded, true);
  assert.ok(report.grown >= 4 * MIB, `the anonymous mappings grew by ${report.grown} bytes`);
  // The same probe in a node process that is no report: glibc's own threshold, the buffer from the heap.
  const plain = probed(['-e', '']);
  assert.equal(plain.loaded, false);
  assert.ok(plain.grown < 4 * MIB, `without the library the anonymous mappings grew by ${plain.grown} bytes`);
});

test('a package without the library, or with a file that is no library there, reports all the same', () => {
  const expected = probed([join(REPO_ROOT, 'bin', 'memlens.js'), 'summary', CAPTURE]);
  assert.equal(expected.code, 0);
  // The npm package's layout, its reports' bundle alone (bin/cli-bundle.js starts it for a report).
  const root = join(work, 'package');
  cpSync(join(REPO_ROOT, 'bin'), join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'dist'));
  copyFileSync(join(REPO_ROOT, 'dist', 'memlens-reports.cjs'), join(root, 'dist', 'memlens-reports.cjs'));
  const without = probed([join(root, 'bin', 'memlens.js'), 'summary', CAPTURE]);
  assert.equal(without.code, 0);
  assert.equal(without.loaded, false);
  assert.equal(without.stdout, expected.stdout);
  mkdirSync(join(root, 'agent', 'build'), { recursive: true });
  writeFileSync(join(root, 'agent', 'build', 'libmemlens_mmap.so'), 'not a shared library\n');
  const broken = probed([join(root, 'bin', 'memlens.js'), 'summary', CAPTURE]);
  assert.equal(broken.code, 0);
  assert.equal(broken.loaded, false);
  assert.equal(broken.stdout, expected.stdout);
});

// What the target reports of itself, and of its parent (memlens run's node, which starts it).
const TARGET = `import json, os
def maps(pid):
    with open("/proc/%d/maps" % pid) as f:
        return f.read()
with open("/proc/%d/cmdline" % os.getppid(), "rb") as f:
    parent = f.read().split(b"\\0")
print(json.dumps({
    "env": sorted(k for k in os.environ if k.startswith("MALLOC_") or k == "GLIBC_TUNABLES" or "libmemlens_mmap" in os.environ[k]),
    "mine": "libmemlens_mmap" in maps(os.getpid()),
    "agent": "libmemlens_agent" in maps(os.getpid()),
    "parent": [a.decode() for a in parent],
    "parents": "libmemlens_mmap" in maps(os.getppid()),
}))
`;

test('the program memlens run starts sees nothing of it: no MALLOC_* or GLIBC_TUNABLES, no library in its maps or in memlens run', async () => {
  const py = testPythons()[testPythons().length - 1];
  assert.ok(py !== undefined);
  const dir = join(work, 'run');
  mkdirSync(dir);
  const r = await memlensRun({ python: py.python, files: { 'target.py': TARGET }, program: ['target.py'] }, dir);
  assert.equal(r.code, 0, r.stderr);
  const seen = JSON.parse(r.stdout) as { env: string[]; mine: boolean; agent: boolean; parent: string[]; parents: boolean };
  assert.deepEqual(seen.env, []);
  assert.equal(seen.agent, true, 'the probe looks at the tracked program');
  assert.equal(seen.mine, false);
  assert.ok(
    seen.parent.some((a) => a.endsWith('memlens.js')),
    `the parent is memlens run: ${seen.parent.join(' ')}`,
  );
  assert.equal(seen.parents, false);
  assert.ok(readFileSync(r.capture).length > 0);
});

// The package's install step (scripts/build-agent.mjs) in a copy of what it reads: a compiler that fails on
// the library alone leaves the install successful, the agent built, and one line on stderr. The npm package
// carries the source that step compiles (package.json "files").
test('npm install: a failure to build the library is said on stderr and does not fail the install', () => {
  const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(pack.status, 0, pack.stderr);
  const packed = (JSON.parse(pack.stdout) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path) ?? [];
  assert.ok(packed.includes('native/mmap_threshold.c'), 'npm pack ships the source');
  const root = join(work, 'install');
  for (const part of ['scripts/build-agent.mjs', 'package.json', 'agent/src', 'agent/cflags.json', 'native']) cpSync(join(REPO_ROOT, part), join(root, part), { recursive: true });
  const cc = join(work, 'cc-no-mmap');
  writeFileSync(cc, '#!/bin/sh\ncase "$*" in *mmap_threshold.c*) echo "cc: no" >&2; exit 1;; esac\nexec cc "$@"\n', { mode: 0o755 });
  const failed = spawnSync(process.execPath, [join(root, 'scripts', 'build-agent.mjs')], { encoding: 'utf8', env: { ...process.env, CC: cc } });
  assert.equal(failed.status, 0, failed.stderr);
  assert.ok(existsSync(join(root, 'agent', 'build', 'libmemlens_agent.so')));
  assert.ok(!existsSync(join(root, 'agent', 'build', 'libmemlens_mmap.so')));
  assert.deepEqual(
    failed.stderr.split('\n').filter((l) => l.startsWith('memlens: ')),
    [`memlens: building libmemlens_mmap.so failed (${cc} exited with 1); the reports work without it, with a higher peak (docs/mmap-threshold.md).`],
  );
  assert.deepEqual(readdirSync(join(root, 'agent', 'build')), ['libmemlens_agent.so'], 'no temporary file left');
  const ok = spawnSync(process.execPath, [join(root, 'scripts', 'build-agent.mjs')], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.ok(existsSync(join(root, 'agent', 'build', 'libmemlens_mmap.so')));
});
