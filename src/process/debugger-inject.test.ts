import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { probeDebugger, untilAsleepIn } from './debugger-inject.js';

// The debugger's probe attaches to its test process only once that process runs `sleep` and sleeps in it: attached
// while it was still node's forked child or in the dynamic loader, gdb found no getpid to call and the probe said
// "fails" (seen on a loaded machine). Real processes; bounded by polls, not by time.
test('untilAsleepIn: true only once the process runs the executable and sleeps in it', async () => {
  const sleepPath = realpathSync(execFileSync('sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).trim());
  // A shell that sleeps (in read) under another executable, then runs sleep when told.
  const child = spawn('/bin/sh', ['-c', `read x; exec ${sleepPath} 60`], { stdio: ['pipe', 'ignore', 'ignore'] });
  const pid = child.pid!;
  try {
    assert.equal(await untilAsleepIn(pid, sleepPath, 5), false, 'the shell, asleep in read, is not the sleep');
    child.stdin.end('go\n');
    assert.equal(await untilAsleepIn(pid, sleepPath, 100_000), true);
    // Stopped (state T), it is not asleep; continued, it is again.
    process.kill(pid, 'SIGSTOP');
    assert.equal(await untilAsleepIn(pid, sleepPath, 5), false, 'a stopped process is not asleep');
    process.kill(pid, 'SIGCONT');
    assert.equal(await untilAsleepIn(pid, sleepPath, 100_000), true);
  } finally {
    child.kill('SIGKILL');
  }
  await once(child, 'exit');
  assert.equal(await untilAsleepIn(pid, sleepPath, 3), false, 'a process gone is not asleep');
});

// Which probe answers are kept in the private directory: only those about the machine (the call worked, or gdb's
// AVX/AMX failure); any other failure is probed again at the next attach. The "debugger" here is a shell script
// that answers as gdb would (a real gdb cannot be made to fail either way on demand); the test process it is
// pointed at is the probe's real `sleep`.
test('probeDebugger keeps an answer about the machine and probes again after any other failure', async () => {
  const root = mkdtempSync(join(tmpdir(), 'memlens-probe-test-'));
  chmodSync(root, 0o700);
  const env = { XDG_RUNTIME_DIR: root };
  const kept = join(root, 'memlens', 'debugger-probe-gdb.json');
  // gdb's arguments: -q -batch -nx -p PID ...: the PID is the fifth.
  const fake = (name: string, body: string): string => {
    const path = join(root, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  };
  try {
    const flaky = await probeDebugger('gdb', fake('gdb-flaky', 'echo "[Inferior 1 (process $5) detached]"'), env);
    assert.equal(flaky.ok, false);
    assert.equal(existsSync(kept), false, 'a failure that is not about the machine is not kept');

    const amx = await probeDebugger('gdb', fake('gdb-amx', 'echo "Couldn\'t write extended state status: Bad address."'), env);
    assert.equal(amx.ok, false);
    assert.match(amx.reason, /AVX\/AMX/);
    assert.equal((JSON.parse(readFileSync(kept, 'utf8')) as { ok: boolean }).ok, false, "gdb's AMX failure is kept");

    const works = await probeDebugger('gdb', fake('gdb-works', 'echo "\\$1 = $5"'), env);
    assert.deepEqual(works, { ok: true, reason: 'ok' });
    assert.equal((JSON.parse(readFileSync(kept, 'utf8')) as { ok: boolean }).ok, true, 'a call that worked is kept');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
