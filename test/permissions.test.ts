// What an unprivileged user meets: attaching to another user's process is refused with the reason and the
// fix, and --memory-limit without the right to create a cgroup falls back to an address-space limit and
// says so. Run as `nobody` (setpriv), against Debian's /usr/bin/python3 (pyenv's live under /root).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO_ROOT } from './support/pythons.js';
import { NODE_FLAGS } from '../src/util/node-flags.js';

const MEMLENS = join(REPO_ROOT, 'bin', 'memlens.js');
const work = mkdtempSync(join(tmpdir(), 'memlens-perm-'));
chmodSync(work, 0o777);
after(() => rmSync(work, { recursive: true, force: true }));

function asNobody(args: readonly string[]): { code: number | null; stderr: string; stdout: string } {
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', `HOME=${work}`, process.execPath, ...NODE_FLAGS, MEMLENS, ...args], {
    encoding: 'utf8',
    cwd: work,
    timeout: 120_000,
  });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

test("attaching to another user's process says why it is refused and what to do", async () => {
  const target = spawn('/usr/bin/python3', ['-c', 'import time, os; print(os.getpid(), flush=True); time.sleep(30)'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const pid = await new Promise<string>((r) => target.stdout.once('data', (d: Buffer) => r(d.toString().trim())));
    const res = asNobody(['attach', pid, '-o', join(work, 'x.mlens')]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, new RegExp(`no permission to read the memory of PID ${pid}`));
    assert.match(res.stderr, /belongs to uid 0: run memlens as that user or as root/);
    assert.match(res.stderr, /SYS_PTRACE/);
  } finally {
    target.kill('SIGKILL');
  }
});

test('--memory-limit without the right to make a cgroup limits the address space instead, and says so', () => {
  copyFileSync(join(REPO_ROOT, 'examples', 'batch_oom.py'), join(work, 'batch_oom.py'));
  chmodSync(join(work, 'batch_oom.py'), 0o644);
  const res = asNobody(['run', '--python', '/usr/bin/python3', '--memory-limit', '150M', '-o', join(work, 'b.mlens'), 'batch_oom.py']);
  assert.match(res.stderr, /cannot create a memory cgroup .*limiting the address space instead: the program will see MemoryError rather than an OOM kill/);
  assert.match(res.stderr, /MemoryError/);
  assert.equal(res.code, 1, 'the program died of its MemoryError, and memlens says so by its status');
  assert.match(res.stderr, /capture written to b\.mlens/);
});

test('a memory limit too small to start Python is said to be so', () => {
  const r = spawnSync(process.execPath, [...NODE_FLAGS, MEMLENS, 'run', '--memory-limit', '4M', '-o', join(work, 'tiny.mlens'), '-c', 'print(1)'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, 'SIGKILL', 'memlens ends as the program did');
  assert.match(r.stderr, /no capture was written/);
  assert.match(r.stderr, /a limit of 4M is too small to start Python/);
});
