// memlens run in-process through main(), with a real Python under the agent: the exit status it passes
// on, the capture it writes and the messages that say where it is (the one-line errors before anything
// starts: src/cli/commands/run.test.ts; what the agent records: test/agent/).

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readCaptureFile } from '../src/cli/capture-file.js';
import { main } from '../src/cli/main.js';
import { Collector } from './support/collect.js';
import { memoryIo } from './support/memory-io.js';
import { bytearraySize, testPythons } from './support/pythons.js';

const dir = mkdtempSync(join(tmpdir(), 'memlens-run-cmd-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const newest = testPythons()[testPythons().length - 1]!;
const py = newest.python;
const env = { PATH: process.env['PATH'] ?? '' };
writeFileSync(join(dir, 'ok.py'), 'x = 1\n');

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo({ cwd: dir, env });
  const code = await main(['run', ...args], io);
  return { code, out: io.out(), err: io.err() };
}

describe('memlens run: a real run in-process', () => {
  test('exit status, capture and the message that says where it is', async () => {
    const out = join(dir, 'status.mlens');
    const r = await run(['--python', py, '-o', out, '-c', 'raise SystemExit(4)']);
    assert.equal(r.code, 4);
    assert.ok(existsSync(out));
    assert.match(r.err, /^memlens: capture written to status\.mlens \(\d+(\.\d+)? (B|KiB)\)\nmemlens: for a report, run: memlens summary status\.mlens\n$/);
    // Why tracking stopped, in every --json report: the interpreter exited, with the status memlens saw.
    for (const command of ['verdict', 'summary', 'stats']) {
      const io = memoryIo({ cwd: dir, env });
      assert.equal(await main([command, '--json', out], io), 0, io.err());
      const e = (JSON.parse(io.out()) as { ending: { stop_reason: string; exit_code: number; trailer_reason: string; went_on: boolean } }).ending;
      assert.deepEqual([e.stop_reason, e.exit_code, e.trailer_reason, e.went_on], ['exit', 4, 'exit', false], command);
    }
    // Which end "live at the end" means: the program's end, after memlens released the script's module-level names.
    const io = memoryIo({ cwd: dir, env });
    assert.equal(await main(['summary', '--leaks', out], io), 0, io.err());
    assert.match(
      io.out(),
      /Allocations still live at the end \(at the program's end \(\d+\.\d{3} s\): after its code, threads and exit handlers, with the script's module-level names released as at the interpreter's teardown, so what only they held is not counted\)/,
    );
    assert.match(io.out(), /How it ended: Exited with status 4 at /);
  });

  test('-q is quiet; death by a signal gives 128 + its number without killSelf', async () => {
    const r = await run(['-q', '--python', py, '-o', join(dir, 'sig.mlens'), '-c', 'import os, signal; os.kill(os.getpid(), signal.SIGTERM)']);
    assert.equal(r.code, 128 + 15);
    assert.equal(r.err, '');
    const io = memoryIo({ cwd: dir, env });
    assert.equal(await main(['verdict', '--json', join(dir, 'sig.mlens')], io), 0, io.err());
    const e = (JSON.parse(io.out()) as { ending: { stop_reason: string; signal_name: string } }).ending;
    assert.deepEqual([e.stop_reason, e.signal_name], ['signal', 'SIGTERM']);
  });

  test('-f over a bigger capture: the new file holds the new run only, whole', async () => {
    const out = join(dir, 'again.mlens');
    const big = await run(['-q', '--python', py, '-o', out, '-c', 'import sys\nk = [bytearray(100 + i % 50) for i in range(300_000)]']);
    assert.equal(big.code, 0);
    const bigSize = statSync(out).size;
    const small = await run(['-q', '-f', '--python', py, '-o', out, '-c', 'x = bytearray(1_234_567)']);
    assert.equal(small.code, 0, small.err);
    assert.equal(small.err, '');
    assert.ok(statSync(out).size < bigSize, `${statSync(out).size} bytes after ${bigSize}`);
    const c = new Collector();
    await readCaptureFile(out, c);
    assert.deepEqual(c.c.warnings, []);
    assert.equal(c.c.items.filter((it) => it.type === 'alloc' && it.size === bytearraySize(newest, 1_234_567)).length, 1);
    assert.equal(c.c.items.filter((it) => it.type === 'alloc' && it.size >= 100 && it.size < 150).length < 1000, true, 'none of the old run');
  });

  test('the default output name is memlens-<stem>.<pid>.mlens in the current directory', async () => {
    const r = await run(['--python', py, 'ok.py']);
    assert.equal(r.code, 0);
    const m = /capture written to (memlens-ok\.(\d+)\.mlens)/.exec(r.err);
    assert.ok(m !== null, r.err);
    assert.ok(existsSync(join(dir, m[1]!)));
  });
});
