// memlens run driven in-process through main(): the one-line errors before anything starts, and a real
// run with its exit status (the end-to-end behaviour of the target is tested in test/agent/).

import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Collector } from '../../../test/support/collect.js';
import { fakeIo } from '../../../test/support/fake-io.js';
import { testPythons } from '../../../test/support/pythons.js';
import { readCaptureFile } from '../capture-file.js';
import { main } from '../main.js';

const dir = mkdtempSync(join(tmpdir(), 'memlens-run-cmd-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const py = testPythons()[testPythons().length - 1]!.python;
const env = { PATH: process.env['PATH'] ?? '' };

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = fakeIo(dir, { env });
  const code = await main(['run', ...args], io);
  return { code, out: io.out(), err: io.err() };
}

/** A fake interpreter that answers memlens's version check with `answer`. */
function fakePython(name: string, answer: object): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\necho '${JSON.stringify(answer)}'\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('memlens run: errors before anything starts', () => {
  writeFileSync(join(dir, 'ok.py'), 'x = 1\n');
  writeFileSync(join(dir, 'bad.py'), 'def f(:\n    pass\n');
  writeFileSync(join(dir, 'exists.mlens'), 'x');

  const cases: [string, string[], number, RegExp][] = [
    ['no program', [], 2, /run: missing the program to run/],
    ['a bad interval', ['--memory-interval-ms', '0', 'ok.py'], 2, /--memory-interval-ms 0: give a whole number of milliseconds from 1 to 1000/],
    ['an output that exists', ['--python', py, '-o', 'exists.mlens', 'ok.py'], 1, /exists\.mlens exists\n {2}hint: Use -f to overwrite it/],
    ['an output in a missing directory', ['--python', py, '-o', 'nodir/x.mlens', 'ok.py'], 1, /nodir: no such directory/],
    ['an output that is a directory', ['--python', py, '-o', '.', 'ok.py'], 1, /is a directory/],
    ['a missing script', ['--python', py, 'missing.py'], 1, /missing\.py: no such file/],
    ['a script that does not parse', ['--python', py, 'bad.py'], 1, /bad\.py does not parse: line 1: /],
    ['-c code that does not parse', ['--python', py, '-c', 'x = ('], 1, /the -c code does not parse: line 1/],
    ['--python that does not exist', ['--python', join(dir, 'nope', 'python3'), 'ok.py'], 1, /--python .*nope\/python3: not an executable file/],
    [
      'CPython 3.8',
      ['--python', fakePython('py38', { impl: 'cpython', version: [3, 8, 18], hexversion: 0x30812f0, error: null }), 'ok.py'],
      1,
      /py38 is CPython 3\.8\.18; memlens needs CPython 3\.9 or newer/,
    ],
    [
      'PyPy',
      ['--python', fakePython('pypy', { impl: 'pypy', version: [3, 10, 14], hexversion: 0x30a0ef0, error: null }), 'ok.py'],
      1,
      /pypy is pypy 3\.10\.14; memlens supports CPython only/,
    ],
  ];
  for (const [name, args, code, message] of cases) {
    test(name, async () => {
      const r = await run(args);
      assert.equal(r.code, code, r.err);
      assert.match(r.err, message);
      assert.equal(r.err.split('\n')[0]?.startsWith('memlens: error: '), true, r.err);
      assert.equal(r.out, '');
    });
  }

  test('an agent that is not built', async () => {
    const io = fakeIo(dir, { env: { ...env, MEMLENS_AGENT_SANITIZE: 'no-such-sanitizer' } });
    const code = await main(['run', '--python', py, 'ok.py'], io);
    assert.equal(code, 1);
    assert.match(io.err(), /the agent is not built \(.*libmemlens_agent-no-such-sanitizer\.so is missing\)/);
  });
});

describe('memlens run: a real run in-process', () => {
  test('exit status, capture and the message that says where it is', async () => {
    const out = join(dir, 'status.mlens');
    const r = await run(['--python', py, '-o', out, '-c', 'raise SystemExit(4)']);
    assert.equal(r.code, 4);
    assert.ok(existsSync(out));
    assert.match(r.err, /^memlens: capture written to status\.mlens \(\d+(\.\d+)? (B|KiB)\)\nmemlens: for a report, run: memlens summary status\.mlens\n$/);
  });

  test('-q is quiet; death by a signal gives 128 + its number without killSelf', async () => {
    const r = await run(['-q', '--python', py, '-o', join(dir, 'sig.mlens'), '-c', 'import os, signal; os.kill(os.getpid(), signal.SIGTERM)']);
    assert.equal(r.code, 128 + 15);
    assert.equal(r.err, '');
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
    assert.equal(c.c.items.filter((it) => it.type === 'alloc' && it.size === 1_234_568).length, 1);
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
