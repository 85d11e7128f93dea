// The memory cgroup (agent/src/cgroup.c) from stand-ins of /proc/self/cgroup and /proc/self/mountinfo
// over a fake hierarchy: cgroup v2 (the smallest memory.max up to the mount), v1 (memory.stat's
// hierarchical limit, "no limit" as a huge number), a container's own view (mount root = its cgroup), a
// hybrid system, escaped mount points, and no memory controller at all.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { compile, STRICT_CFLAGS } from '../pyframes/support.js';
import { tempDir } from '../support/memlens-run.js';
import { REPO_ROOT } from '../support/pythons.js';
import { spawnSync } from 'node:child_process';

const tmp = tempDir('memlens-cgroup-');
after(tmp.remove);
const exe = join(tmp.dir, 'cgroup_check');

before(() => {
  const src = join(REPO_ROOT, 'agent', 'src');
  const r = compile([...STRICT_CFLAGS, '-o', exe, join(REPO_ROOT, 'agent', 'test', 'cgroup_check.c'), join(src, 'cgroup.c'), join(src, 'util.c'), join(src, 'mem.c')]);
  assert.equal(r.status, 0, r.stderr);
});

function files(tree: Record<string, string>): void {
  for (const [path, text] of Object.entries(tree)) {
    const full = join(tmp.dir, path);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, text);
  }
}

function discover(name: string, cgroup: string, mountinfo: string): { version: number; path: string; dir: string; usage: number; limit: number } {
  files({ [`${name}.cgroup`]: cgroup, [`${name}.mountinfo`]: mountinfo });
  const r = spawnSync(exe, [join(tmp.dir, `${name}.cgroup`), join(tmp.dir, `${name}.mountinfo`)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [version, path, dir, usage, limit] = r.stdout.trimEnd().split('\t');
  return { version: Number(version), path: path ?? '', dir: dir ?? '', usage: Number(usage), limit: Number(limit) };
}

const other = (root: string) => `22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n31 22 0:27 / ${root}/sys rw - sysfs sysfs rw\n`;

test('cgroup v2: usage, and the smallest memory.max from the cgroup up to the mount', () => {
  const m = join(tmp.dir, 'v2');
  files({
    'v2/app/worker/memory.current': '12345\n',
    'v2/app/worker/memory.max': 'max\n',
    'v2/app/memory.max': '1000000\n',
    'v2/memory.max': '5000000\n',
  });
  const r = discover('v2', '0::/app/worker\n', `${other(tmp.dir)}41 23 0:38 / ${m} rw,nosuid - cgroup2 cgroup2 rw\n`);
  assert.deepEqual(r, { version: 2, path: '/app/worker', dir: join(m, 'app', 'worker'), usage: 12345, limit: 1000000 });
});

test("cgroup v2 in a container: the mount is the container's own cgroup", () => {
  const m = join(tmp.dir, 'v2ns');
  files({ 'v2ns/memory.current': '777\n', 'v2ns/memory.max': '4096000\n' });
  const r = discover('v2ns', '0::/\n', `41 23 0:38 / ${m} rw - cgroup2 cgroup2 rw,nsdelegate\n`);
  assert.deepEqual(r, { version: 2, path: '/', dir: m, usage: 777, limit: 4096000 });
});

test('cgroup v1: hierarchical_memory_limit counts, "no limit" is no limit', () => {
  const m = join(tmp.dir, 'v1');
  files({
    'v1/docker/abc/memory.usage_in_bytes': '999\n',
    'v1/docker/abc/memory.limit_in_bytes': '9223372036854771712\n',
    'v1/docker/abc/memory.stat': 'cache 0\nrss 1\nhierarchical_memory_limit 2000000\nhierarchical_memsw_limit 9223372036854771712\n',
    'v1/free/memory.usage_in_bytes': '5\n',
    'v1/free/memory.limit_in_bytes': '9223372036854771712\n',
    'v1/free/memory.stat': 'hierarchical_memory_limit 9223372036854771712\n',
  });
  const mi = `35 31 0:32 / ${m} rw,relatime - cgroup cgroup rw,memory\n36 31 0:33 / ${tmp.dir}/cpu rw - cgroup cgroup rw,cpu,cpuacct\n`;
  assert.deepEqual(discover('v1', '5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n1:name=systemd:/x\n', mi), {
    version: 1,
    path: '/docker/abc',
    dir: join(m, 'docker', 'abc'),
    usage: 999,
    limit: 2000000,
  });
  assert.equal(discover('v1free', '4:memory:/free\n', mi).limit, 0, 'no limit');
});

test('cgroup v1 in a container whose mount root is its cgroup; hybrid systems use v1; escaped mount points', () => {
  const m = join(tmp.dir, 'v1 ns');
  files({ 'v1 ns/memory.usage_in_bytes': '42\n', 'v1 ns/memory.limit_in_bytes': '3000000\n' });
  const escaped = m.replace(/ /g, '\\040');
  const r = discover('v1ns', '0::/\n4:memory:/docker/abc\n', `41 23 0:38 / ${tmp.dir}/unified rw - cgroup2 cgroup2 rw\n35 31 0:32 /docker/abc ${escaped} rw - cgroup cgroup rw,memory\n`);
  assert.deepEqual(r, { version: 1, path: '/docker/abc', dir: m, usage: 42, limit: 3000000 });
});

test('no memory controller: nothing', () => {
  const r = discover('none', '1:name=systemd:/\n', other(tmp.dir));
  assert.deepEqual(r, { version: 0, path: '', dir: '', usage: 0, limit: 0 });
});
