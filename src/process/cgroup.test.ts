import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { createLimitedChild, memoryCgroupOf, memoryLimit, memoryUsage, oomKillCount, parseProcCgroup, procsFile, removeCgroup } from './cgroup.js';
import { findOomKillLine, KERNEL_CLOCK_SLACK_US, kernelClockUs, parseDmesgLine, parseKmsgRecord } from './kernel-log.js';

test('parseProcCgroup finds the v1 memory controller, else the v2 unified path', () => {
  assert.deepEqual(parseProcCgroup('9:name=systemd:/\n4:memory:/a/b\n0::/\n'), { version: 1, path: '/a/b' });
  assert.deepEqual(parseProcCgroup('0::/user.slice/x.scope\n'), { version: 2, path: '/user.slice/x.scope' });
  assert.equal(parseProcCgroup('garbage'), undefined);
});

test('a program over its child cgroup limit is killed by the kernel OOM killer, and we can tell', async () => {
  const parent = memoryCgroupOf();
  assert.ok(parent !== undefined, 'this machine has a memory cgroup controller');
  const child = createLimitedChild(parent, `memlens-test-${process.pid}`, 64 * 1024 * 1024);
  try {
    assert.equal(memoryLimit(child), 64 * 1024 * 1024);
    const before = oomKillCount(child);
    assert.equal(before, 0);
    const startedUs = kernelClockUs();
    const proc = spawn('sh', ['-c', `echo $$ > ${procsFile(child)} && exec python3 -c "x = bytearray(256 * 1024 * 1024)"`], { stdio: 'ignore' });
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => proc.on('exit', (c, s) => resolve([c, s])));
    assert.equal(code, null);
    assert.equal(signal, 'SIGKILL');
    assert.equal(oomKillCount(child), 1);
    assert.ok(memoryUsage(child) !== undefined);
    const line = findOomKillLine(proc.pid ?? -1, startedUs);
    assert.ok(line !== undefined && line.includes(`Killed process ${proc.pid}`), `kernel log line: ${line}`);
  } finally {
    assert.equal(await removeCgroup(child), true);
  }
});

test("an older kernel line about a reused PID is not taken for this process's OOM kill", () => {
  const lines = [
    parseKmsgRecord('6,100,5000000,-;Memory cgroup out of memory: Killed process 4242 (python3) total-vm:1kB')!,
    parseDmesgLine('[   20.500000] Out of memory: Killed process 4343 (python3) total-vm:1kB')!,
  ];
  assert.deepEqual(lines[0], { timeUs: 5_000_000, text: 'Memory cgroup out of memory: Killed process 4242 (python3) total-vm:1kB' });
  assert.equal(lines[1]?.timeUs, 20_500_000);
  // Started long after the line: another process had that PID.
  assert.equal(findOomKillLine(4242, 60_000_000, lines), undefined);
  // Started just before it (within the clock slack too).
  assert.match(findOomKillLine(4242, 4_000_000, lines) ?? '', /Killed process 4242 /);
  assert.match(findOomKillLine(4242, 5_000_000 + KERNEL_CLOCK_SLACK_US - 1, lines) ?? '', /Killed process 4242 /);
  assert.match(findOomKillLine(4343, 20_000_000, lines) ?? '', /Killed process 4343 /);
  assert.equal(findOomKillLine(4343, 30_000_000, lines), undefined);
});
