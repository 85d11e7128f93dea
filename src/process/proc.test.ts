import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { parseCpuMs, parseMaps, statFields, parseStatus, processCpuClock, processCpuMs, readMaps, readStatus, ProcessMemory } from './proc.js';
import { TargetError } from '../errors.js';

test('parseMaps reads addresses, offsets, paths, and drops the (deleted) suffix', () => {
  const maps = parseMaps(
    [
      '55d0c0a00000-55d0c0a28000 r--p 00000000 fe:01 1311 /usr/bin/python3.11',
      '7f0c3a400000-7f0c3a428000 r-xp 00028000 fe:01 77 /usr/lib/x86_64-linux-gnu/libc.so.6',
      '7ffd1c3f1000-7ffd1c412000 rw-p 00000000 00:00 0                          [stack]',
      '7f0000000000-7f0000001000 rw-s 00000000 00:05 99 /dev/shm/x (deleted)',
      '7f0000002000-7f0000003000 ---p 00000000 00:00 0 ',
    ].join('\n'),
  );
  assert.equal(maps.length, 5);
  assert.deepEqual(maps[0], { start: 0x55d0c0a00000, end: 0x55d0c0a28000, perms: 'r--p', offset: 0, inode: 1311, path: '/usr/bin/python3.11' });
  assert.equal(maps[1]?.offset, 0x28000);
  assert.equal(maps[2]?.path, '[stack]');
  assert.equal(maps[3]?.path, '/dev/shm/x');
  assert.equal(maps[4]?.path, '');
});

test('status of this process', () => {
  const s = readStatus(process.pid);
  assert.equal(s.pid, process.pid);
  assert.equal(s.ppid, process.ppid);
  assert.ok(s.threads >= 1);
  assert.equal(parseStatus(1, 'Name:\tx\nState:\tT (stopped)\nUid:\t1000\t1000\t1000\t1000\n').state, 'T');
});

test('a PID that does not exist gives a TargetError naming it', () => {
  const pid = 2 ** 22 + 12345; // above pid_max's default
  assert.throws(
    () => readMaps(pid),
    (e: unknown) => e instanceof TargetError && e.message.includes(String(pid)),
  );
});

test('ProcessMemory reads this process through /proc/self/mem', () => {
  const maps = readMaps(process.pid).filter((m) => m.perms.startsWith('r'));
  assert.ok(maps.length > 0);
  const mem = new ProcessMemory(process.pid, false);
  try {
    const first = maps[0];
    assert.ok(first !== undefined);
    assert.equal(mem.read(first.start, 16).length, 16);
  } finally {
    mem.close();
  }
});

test('statFields: field N of /proc/PID/stat at [N - 3], past a command name with spaces and parentheses', () => {
  const fields = statFields('1234 (py (x) y) S 1 77 1234 0 -1 4194304 100 0 0 0 250 37 0 0 20 0 1 0 12345 0 0');
  assert.equal(fields?.[3 - 3], 'S');
  assert.equal(fields?.[4 - 3], '1');
  assert.equal(fields?.[5 - 3], '77');
  assert.equal(fields?.[22 - 3], '12345');
  assert.equal(statFields(''), undefined);
  assert.equal(statFields('1234 python3 S 1'), undefined, 'no command name in parentheses');
  // This process: its parent and its state (running, as it reads its own stat).
  const own = statFields(readFileSync('/proc/self/stat', 'utf8'));
  assert.equal(Number(own?.[4 - 3]), process.ppid);
  assert.equal(own?.[3 - 3], 'R');
});

test('parseCpuMs: user + system time of /proc/PID/stat, past a command name with spaces and parentheses', () => {
  assert.equal(parseCpuMs('1234 (py (x) y) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 37 0 0 20 0 1 0 12345 0 0'), 2870);
  assert.equal(parseCpuMs(''), undefined);
  assert.equal(parseCpuMs('1234 (python3) S 1'), undefined);
});

test('processCpuMs: the CPU time of this process grows with its work; a PID that is not there has none', () => {
  const before = processCpuMs(process.pid);
  assert.ok(before !== undefined);
  // Bound work: spin until node itself counts 100 ms more CPU, which /proc counts too (in 10 ms steps).
  const start = process.cpuUsage();
  let x = 0;
  for (;;) {
    for (let i = 0; i < 1e5; i++) x += i;
    const d = process.cpuUsage(start);
    if (d.user + d.system >= 100_000) break;
  }
  assert.ok(x > 0);
  assert.ok((processCpuMs(process.pid) as number) >= before + 50);
  assert.equal(processCpuMs(2 ** 22 + 1), undefined);
});

test('processCpuClock reads the same time as processCpuMs, again and again; nothing once closed or for a PID not there', () => {
  const clock = processCpuClock(process.pid);
  const a = clock.ms() as number;
  const b = processCpuMs(process.pid) as number;
  const c = clock.ms() as number;
  assert.ok(a <= b && b <= c, `${a} ${b} ${c}`);
  clock.close();
  assert.equal(clock.ms(), undefined);
  assert.equal(processCpuClock(2 ** 22 + 1).ms(), undefined);
});
