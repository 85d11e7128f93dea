import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeEnding, describeWriteFailure, type Ending } from './ending.js';

test('describeEnding: one sentence for each way a process ends', () => {
  const e: Ending = {
    kind: 'exited',
    exitCode: 3,
    signal: undefined,
    oomKill: 'no',
    detail: '',
    trailerReason: undefined,
    endNs: 4.21e9,
    captureStop: undefined,
    stopReason: 'exit',
    wentOn: false,
    stopNs: undefined,
  };
  assert.equal(describeEnding(e), 'Exited with status 3 at 4.210 s; not killed (so not by the OOM killer).');
  const killed: Ending = { ...e, kind: 'signal', exitCode: undefined, signal: 6 };
  assert.equal(describeEnding(killed), 'Killed by SIGABRT, signal 6 at 4.210 s; not by the OOM killer.');
  assert.equal(describeEnding({ ...killed, signal: 9, oomKill: 'unknown' }), 'Killed by SIGKILL, signal 9 at 4.210 s; whether the OOM killer sent it cannot be told.');
  assert.equal(
    describeEnding({ ...killed, signal: 9, oomKill: 'unknown', detail: 'no OOM line in the kernel log' }),
    'Killed by SIGKILL, signal 9 at 4.210 s; whether the OOM killer sent it cannot be told (no OOM line in the kernel log).',
  );
  assert.equal(describeEnding({ ...killed, signal: 9, oomKill: 'yes', detail: 'Killed process 12 (python3)' }), "Killed by the kernel's OOM killer (SIGKILL, signal 9) at 4.210 s.");
  const stopped: Ending = {
    kind: 'stopped',
    exitCode: undefined,
    signal: undefined,
    oomKill: undefined,
    detail: '',
    trailerReason: 'detach',
    endNs: 1e9,
    captureStop: undefined,
    stopReason: 'detach',
    wentOn: true,
    stopNs: 1e9,
  };
  assert.equal(
    describeEnding(stopped),
    'Tracking stopped at 1.000 s: memlens detached. The process was still running then and went on untracked: what it did afterwards, and how it ended, are not in the capture.',
  );
  assert.match(describeEnding({ ...stopped, stopReason: 'duration' }), /^Tracking stopped at 1\.000 s: the attach's --duration elapsed\. The process was still running/);
  assert.match(describeEnding({ ...stopped, stopReason: 'interrupted' }), /^Tracking stopped at 1\.000 s: memlens was interrupted \(Ctrl-C\) and detached\./);
  const atExit: Ending = { ...stopped, trailerReason: 'exit', stopReason: 'exit', wentOn: false, stopNs: undefined };
  assert.match(describeEnding(atExit), /^The program exited at 1\.000 s: its interpreter ran its exit handlers, so it was not killed .*Its exit status is not in the capture/);
  // An older agent's trailer: never "the program exited" for a detach it could not tell apart.
  const older = describeEnding({ ...atExit, trailerReason: 'stopped', stopReason: 'unknown' });
  assert.match(older, /^Tracking stopped at 1\.000 s; why is not recorded/);
  assert.doesNotMatch(older, /exited/);
  assert.equal(
    describeEnding({ ...e, stopReason: 'program', wentOn: true, stopNs: 2e9 }),
    'Tracking stopped at 2.000 s (the program stopped tracking itself); the process went on untracked. Exited with status 3 at 4.210 s; not killed (so not by the OOM killer).',
  );
  assert.match(
    describeEnding({ ...stopped, kind: 'abrupt', trailerReason: undefined, endNs: 0, stopReason: 'unknown', wentOn: false }),
    /^The capture ends abruptly \(no trailer, no exit record\): the process was killed or is still running\. Whether/,
  );
});

test('a capture whose writing failed says where it stops and why, not that the process was killed', () => {
  const stop = { timeNs: 846e6, why: 'ENOSPC: no space left on the device' };
  const exited: Ending = {
    kind: 'exited',
    exitCode: 3,
    signal: undefined,
    oomKill: 'no',
    detail: '',
    trailerReason: undefined,
    endNs: 2e9,
    captureStop: stop,
    stopReason: 'exit',
    wentOn: false,
    stopNs: undefined,
  };
  assert.equal(
    describeEnding(exited),
    'Exited with status 3 at 2.000 s; not killed (so not by the OOM killer). The capture stops at 0.846 s: the disk filled up (ENOSPC: no space left on the device); what the program did after that is not in it.',
  );
  const abrupt: Ending = { ...exited, kind: 'abrupt', exitCode: undefined, oomKill: undefined };
  assert.doesNotMatch(describeEnding(abrupt), /killed/);
  assert.match(describeEnding(abrupt), /the disk filled up/);
  assert.equal(describeWriteFailure('EDQUOT: the disk quota is used up'), 'the disk quota ran out');
  assert.equal(describeWriteFailure('errno 5\u001b'), 'writing it failed (errno 5\\u001b)');
});
