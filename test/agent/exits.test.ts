// However the program ends, the capture is readable and memlens ends the same way: SIGKILL in the middle
// of the run, os._exit, SystemExit, an unhandled exception, Ctrl-C (KeyboardInterrupt ends the process by
// SIGINT, as under python3), SIGTERM sent to memlens.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Oracle } from '../support/agent-oracle.js';
import { memlensRun, tempDir } from '../support/memlens-run.js';
import { bytearraySize, corePythons, label } from '../support/pythons.js';
import { memoryIo } from '../support/memory-io.js';
import { main } from '../../src/cli/main.js';

/** verdict --json's ending of a capture. */
async function endingOf(capture: string): Promise<{ stop_reason: string; memlens_signal: string | null; summary: string }> {
  const io = memoryIo();
  assert.equal(await main(['verdict', '--json', capture], io), 0, io.err());
  return (JSON.parse(io.out()) as { ending: { stop_reason: string; memlens_signal: string | null; summary: string } }).ending;
}

const WAIT = `import os, sys, time
KEEP = [bytearray(4_444_444)]
print("ready", os.getpid(), flush=True)
time.sleep(60)
print("not reached")
`;

const TRAILER_EXIT = 6; // the interpreter exited (1, which older agents wrote for every stop, is "not recorded")
const TRAILER__EXIT = 4;

/**
 * Sends `signal` to the Python process once it printed "ready PID": after a flush round (50 ms), or, with
 * `inFile`, once that holds of the capture as written so far (polled; on a busy machine the flusher may
 * not run for a while, and a kill before it ran would lose what the test looks for).
 */
function killWhenReady(signal: NodeJS.Signals, target: 'python' | 'memlens' = 'python', inFile?: () => Promise<boolean>) {
  let sent = false;
  return (all: string, memlens: { pid?: number | undefined }): void => {
    const m = /ready (\d+)/.exec(all);
    if (sent || m === null) return;
    sent = true;
    const kill = (): void => void process.kill(target === 'python' ? Number(m[1]) : (memlens.pid as number), signal);
    if (inFile === undefined) {
      setTimeout(kill, 300);
      return;
    }
    const poll = (): void => {
      inFile().then(
        (yes) => (yes ? kill() : void setTimeout(poll, 50)),
        () => void setTimeout(poll, 50), // a block still being written: read again
      );
    };
    setTimeout(poll, 50);
  };
}

for (const py of corePythons()) {
  describe(`endings under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);

    test('SIGKILL mid-run: the capture holds what happened before, memlens dies by SIGKILL too', async () => {
      const bigSize = bytearraySize(py, 4_444_444);
      const written = async (): Promise<boolean> => (await Oracle.load(join(tmp.dir, 'kill.mlens'))).allocs.some((a) => a.size === bigSize);
      const r = await memlensRun({ python: py.python, files: { 'wait.py': WAIT }, program: ['wait.py'], output: 'kill.mlens', onStdout: killWhenReady('SIGKILL', 'python', written) }, tmp.dir);
      assert.equal(r.signal, 'SIGKILL');
      const o = await Oracle.load(r.capture);
      assert.deepEqual(o.warnings, []);
      const big = o.allocs.filter((a) => a.size === bigSize);
      assert.equal(big.length, 1, 'the allocation flushed before the kill is in the file once');
      assert.equal(o.leaf(big[0]!)?.line, 2);
      assert.equal(o.records('trailer').length, 0, 'no trailer: the process had no chance to write one');
      const exit = o.records('exit');
      assert.equal(exit.length, 1);
      assert.equal(exit[0]?.signal, 9);
      assert.equal(exit[0]?.oomKill, 2, 'a SIGKILL may have been the OOM killer: unknown');
      assert.ok(o.records('snapshot').length >= 2);
      assert.ok(o.records('barrier').length >= 1);
    });

    test('os._exit(7): trailer first, exit status 7', async () => {
      const r = await memlensRun({ python: py.python, program: ['-c', 'import os\nx = bytearray(1_234_567)\nos._exit(7)'], output: 'exit7.mlens' }, tmp.dir);
      assert.equal(r.code, 7);
      const o = await Oracle.load(r.capture);
      const t = o.records('trailer');
      assert.equal(t.length, 1);
      assert.equal(t[0]?.reason, TRAILER__EXIT);
      assert.equal(o.allocs.filter((a) => a.size === bytearraySize(py, 1_234_567)).length, 1);
      assert.equal(o.records('exit')[0]?.exitCode, 7);
    });

    test('SystemExit(5) and an unhandled exception: exit statuses 5 and 1, trailers written', async () => {
      const r5 = await memlensRun({ python: py.python, program: ['-c', 'raise SystemExit(5)'], output: 'exit5.mlens' }, tmp.dir);
      assert.equal(r5.code, 5);
      const o5 = await Oracle.load(r5.capture);
      assert.equal(o5.records('trailer')[0]?.reason, TRAILER_EXIT);
      assert.equal(o5.records('exit')[0]?.exitCode, 5);
      const r1 = await memlensRun({ python: py.python, program: ['-c', 'def f():\n    raise KeyError("k")\nf()'], output: 'exit1.mlens' }, tmp.dir);
      assert.equal(r1.code, 1);
      assert.match(r1.stderr, /^Traceback \(most recent call last\):\n {2}File "<string>", line 3, in <module>\n/);
      assert.match(r1.stderr, /KeyError: 'k'\n$/);
      const o1 = await Oracle.load(r1.capture);
      assert.equal(o1.records('trailer')[0]?.reason, TRAILER_EXIT);
      assert.equal(o1.records('exit')[0]?.exitCode, 1);
    });

    test('exec: what happened before it is in the file, the new program is not tracked', async () => {
      const prog = 'import os, sys\nKEEP = bytearray(3_210_000)\nos.execv(sys.executable, [sys.executable, "-c", "import os; print(\'after\', \'MEMLENS_BOOTSTRAP\' in os.environ)"])\n';
      const r = await memlensRun({ python: py.python, program: ['-c', prog], output: 'exec.mlens' }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.stdout, 'after False\n');
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      assert.equal(o.allocs.filter((a) => a.size === bytearraySize(py, 3_210_000)).length, 1, 'the allocation made just before exec');
      assert.equal(o.records('trailer').length, 0);
      assert.equal(o.records('exit')[0]?.exitCode, 0);
    });

    test('a program that closes every descriptor: its new file gets none of our blocks', async () => {
      const prog = [
        'import os, time',
        'os.closerange(3, 1024)',
        'f = open("mine.txt", "w")',
        'KEEP = [bytearray(1000 + i) for i in range(20000)]',
        'time.sleep(0.2)',
        'f.write("hello")',
        'f.close()',
        'print(f.name)',
      ].join('\n');
      const r = await memlensRun({ python: py.python, program: ['-c', prog], output: 'closed.mlens' }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      assert.equal(readFileSync(join(tmp.dir, 'mine.txt'), 'utf8'), 'hello');
      const o = await Oracle.load(r.capture);
      assert.deepEqual(o.warnings, []);
      assert.equal(o.records('exit')[0]?.exitCode, 0, 'memlens still appends EXIT');
    });

    test('Ctrl-C: KeyboardInterrupt, then death by SIGINT as under python3', async () => {
      const r = await memlensRun({ python: py.python, files: { 'wait.py': WAIT }, program: ['wait.py'], output: 'int.mlens', onStdout: killWhenReady('SIGINT') }, tmp.dir);
      assert.equal(r.signal, 'SIGINT');
      assert.match(r.stderr, /^Traceback \(most recent call last\):\n {2}File "[^"]*wait\.py", line 4, in <module>\n/);
      assert.match(r.stderr, /KeyboardInterrupt\n$/);
      const o = await Oracle.load(r.capture);
      assert.equal(o.records('trailer').length, 1, 'atexit ran: the trailer is there');
      assert.equal(o.records('exit')[0]?.signal, 2);
      // Only the program got it (as from another terminal): memlens was not interrupted.
      const e = await endingOf(r.capture);
      assert.deepEqual([e.stop_reason, e.memlens_signal], ['signal', null], e.summary);
    });

    test('Ctrl-C of memlens itself (no terminal: passed on): the capture says memlens was interrupted', async () => {
      const r = await memlensRun({ python: py.python, files: { 'wait.py': WAIT }, program: ['wait.py'], output: 'int-memlens.mlens', onStdout: killWhenReady('SIGINT', 'memlens') }, tmp.dir);
      assert.equal(r.signal, 'SIGINT');
      const o = await Oracle.load(r.capture);
      assert.equal(o.records('exit')[0]?.signal, 2);
      const e = await endingOf(r.capture);
      assert.deepEqual([e.stop_reason, e.memlens_signal], ['interrupted', 'SIGINT'], e.summary);
      assert.match(e.summary, /^memlens was interrupted \(Ctrl-C\), and the program with it\. Killed by SIGINT, signal 2 at /);
    });

    test('SIGTERM sent to memlens reaches the program', async () => {
      const r = await memlensRun({ python: py.python, files: { 'wait.py': WAIT }, program: ['wait.py'], output: 'term.mlens', onStdout: killWhenReady('SIGTERM', 'memlens') }, tmp.dir);
      assert.equal(r.signal, 'SIGTERM');
      assert.doesNotMatch(r.stdout, /not reached/);
      const o = await Oracle.load(r.capture);
      assert.equal(o.records('exit')[0]?.signal, 15);
      assert.equal(o.allocs.filter((a) => a.size === bytearraySize(py, 4_444_444)).length, 1);
      const e = await endingOf(r.capture);
      assert.deepEqual([e.stop_reason, e.memlens_signal], ['signal', 'SIGTERM'], e.summary);
      assert.match(e.summary, /^memlens received SIGTERM and passed it on to the program\. Killed by SIGTERM/);
    });
  });
}
