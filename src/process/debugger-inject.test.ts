import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { realpathSync } from 'node:fs';
import { test } from 'node:test';
import { untilAsleepIn } from './debugger-inject.js';

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
