// The aarch64 wheel's agent (cross-compiled by zig against glibc 2.28) inside a real arm64 CPython (Debian's
// 3.11, unpacked in .cache/arm64-root by the test setup) run by qemu-user on this x86-64 machine: the Python
// API tracks known allocations, and the x86-64 CLI reads the capture.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { sh, wheelPath } from '../support/pip.js';
import { REPO_ROOT } from '../support/pythons.js';
import { NODE_FLAGS } from '../../src/util/node-flags.js';

const work = mkdtempSync(join(tmpdir(), 'memlens-aarch64-test-'));
after(() => rmSync(work, { recursive: true, force: true }));
const MiB = 1024 * 1024;

const PROGRAM = `
import sys
import memlens
KEPT = []
def make_peak():
    blocks = []
    for _ in range(12):
        blocks.append(bytearray(1024 * 1024))
    return len(blocks)
def keep_some():
    for _ in range(3):
        KEPT.append(bytearray(1024 * 1024))
native = sys.argv[2] == "native"
with memlens.Tracker(sys.argv[1], native=native, trace_python_allocators=native):
    make_peak()
    keep_some()
import platform
print(platform.machine())
`;

test('the aarch64 wheel: its agent tracks an arm64 CPython under qemu-user, the capture reads on x86-64', () => {
  assert.equal(process.arch, 'x64', 'this test runs the aarch64 agent under qemu-user from an x86-64 machine');
  const root = join(REPO_ROOT, '.cache', 'arm64-root');
  const pkg = join(work, 'site');
  assert.equal(sh('python3', ['-m', 'zipfile', '-e', wheelPath('aarch64'), pkg]).code, 0);
  const program = join(work, 'known.py');
  writeFileSync(program, PROGRAM);
  for (const mode of ['python', 'native']) {
    const capture = join(work, `${mode}.mlens`);
    const r = sh('qemu-aarch64', ['-L', root, join(root, 'usr', 'bin', 'python3.11'), program, capture, mode], { env: { ...process.env, PYTHONPATH: pkg } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'aarch64');
    const res = sh(process.execPath, [...NODE_FLAGS, join(REPO_ROOT, 'bin', 'memlens.js'), 'results', capture]);
    assert.equal(res.code, 0, res.stderr);
    const doc = JSON.parse(res.stdout) as {
      capture: { python_version: string; native_stacks: boolean };
      peak: { bytes: number; stacks: { frames: { function: string }[] }[] };
      leaks: { bytes: number; stacks: { frames: { function: string }[] }[] };
    };
    assert.equal(doc.capture.python_version, '3.11.2');
    assert.equal(doc.capture.native_stacks, mode === 'native');
    assert.ok(doc.peak.bytes >= 12 * MiB && doc.peak.bytes < 13 * MiB, `${mode}: peak ${doc.peak.bytes}`);
    assert.equal(doc.peak.stacks[0]?.frames[0]?.function, 'make_peak');
    assert.ok(doc.leaks.bytes >= 3 * MiB && doc.leaks.bytes < 4 * MiB, `${mode}: leaks ${doc.leaks.bytes}`);
    assert.equal(doc.leaks.stacks[0]?.frames[0]?.function, 'keep_some');
  }
});
