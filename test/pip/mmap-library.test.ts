// The reports' mmap-threshold library (native/mmap_threshold.c, docs/mmap-threshold.md) in the Python
// distribution: each wheel carries it beside the agent, built for its architecture; the sdist carries its
// source apart from the agent's, and a build from the sdist that cannot compile it says so in one line and
// builds the wheel without it (the reports run without it). That pip's build of the sdist compiles it is
// checked where that build is made anyway (sdist.test.ts).
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { sdistPath, sh, wheelPath } from '../support/pip.js';
import { REPO_ROOT } from '../support/pythons.js';

const work = mkdtempSync(join(tmpdir(), 'memlens-mmap-library-test-'));
after(() => rmSync(work, { recursive: true, force: true }));
// The build tools' python (scripts/build-wheel.mjs made it): any CPython 3 reads a zip and runs the backend.
const PYTHON = join(REPO_ROOT, '.cache', 'build-tools', 'bin', 'python3');
const IN_WHEEL = 'memlens/_payload/agent/build/libmemlens_mmap.so';

/** Each member's name, unix mode and ELF machine (e_machine; null for what is no ELF file) of a wheel. */
function members(wheel: string): Map<string, { mode: number; machine: number | null }> {
  const r = sh(PYTHON, [
    '-c',
    `import json, struct, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
out = {}
for i in z.infolist():
    head = z.read(i)[:20]
    out[i.filename] = {"mode": i.external_attr >> 16 & 0o777, "machine": struct.unpack("<H", head[18:20])[0] if head[:4] == b"\\x7fELF" else None}
print(json.dumps(out))`,
    wheel,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return new Map(Object.entries(JSON.parse(r.stdout) as Record<string, { mode: number; machine: number | null }>));
}

test('each wheel carries the library beside the agent, an executable ELF file for its architecture', () => {
  for (const [arch, machine] of [
    ['x86_64', 62],
    ['aarch64', 183],
  ] as const) {
    const m = members(wheelPath(arch));
    assert.deepEqual(m.get(IN_WHEEL), { mode: 0o755, machine }, arch);
    assert.equal(m.get('memlens/_payload/agent/build/libmemlens_agent.so')?.machine, machine, arch);
  }
});

/** The sdist unpacked, and a wheel built from it by its backend (as pip does), with `env`'s compiler. */
function wheelFromSdist(name: string, env: NodeJS.ProcessEnv): { files: Map<string, { mode: number; machine: number | null }>; stderr: string } {
  const dir = join(work, name);
  const r = sh(PYTHON, ['-c', 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])', sdistPath(), dir]);
  assert.equal(r.code, 0, r.stderr);
  const [top] = readdirSync(dir);
  const src = join(dir, top as string);
  assert.ok(existsSync(join(src, 'native-src', 'mmap_threshold.c')), 'the sdist has the source');
  assert.ok(!readdirSync(join(src, 'agent-src')).includes('mmap_threshold.c'), "the agent's sources do not");
  const out = join(dir, 'out');
  const build = sh(PYTHON, ['-c', 'import os, sys; sys.path.insert(0, "."); import memlens_build as b; os.mkdir(sys.argv[1]); print(b.build_wheel(sys.argv[1]))', out], { cwd: src, env });
  assert.equal(build.code, 0, build.stderr);
  return { files: members(join(out, build.stdout.trim())), stderr: build.stderr };
}

test('a wheel built from the sdist with a compiler that fails on the library is built without it, and says so', () => {
  // A compiler that builds the agent and fails on the library alone (what a system without glibc's
  // malloc.h, or any other trouble with it, looks like to the backend).
  const cc = join(work, 'cc-no-mmap');
  writeFileSync(cc, '#!/bin/sh\ncase "$*" in *mmap_threshold.c*) echo "cc: no" >&2; exit 1;; esac\nexec cc "$@"\n');
  chmodSync(cc, 0o755);
  const without = wheelFromSdist('without', { ...process.env, CC: cc });
  assert.equal(without.files.has(IN_WHEEL), false);
  assert.ok(without.files.has('memlens/_payload/agent/build/libmemlens_agent.so'));
  const ours = without.stderr.split('\n').filter((l) => l.startsWith('memlens: '));
  assert.deepEqual(ours, [`memlens: building libmemlens_mmap.so failed (${cc}); the reports work without it, with a higher peak (docs/mmap-threshold.md)`]);
});
