// memlens run driven in-process through main(): the one-line errors before anything starts (a real run,
// its exit status and its messages: test/run-command.test.ts; what the agent records: test/agent/).

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { memoryIo } from '../../../test/support/memory-io.js';
import { testPythons } from '../../../test/support/pythons.js';
import { main } from '../main.js';

const dir = mkdtempSync(join(tmpdir(), 'memlens-run-cmd-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const py = testPythons()[testPythons().length - 1]!.python;
const env = { PATH: process.env['PATH'] ?? '' };

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo({ cwd: dir, env });
  const code = await main(['run', ...args], io);
  return { code, out: io.out(), err: io.err() };
}

/**
 * A fake interpreter that answers memlens's version check with `answer` (no CPython 3.8 or PyPy is installed
 * here): on the status descriptor, 3 for `memlens run` without pipes (process/launch.ts), as the version
 * check in the bootstrap's loader does, then exits as it does.
 */
function fakePython(name: string, answer: object): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\necho '${JSON.stringify(answer)}' >&3\nexit 2\n`);
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
    ['PyPy', ['--python', fakePython('pypy', { impl: 'pypy', version: [3, 10, 14], hexversion: 0x30a0ef0, error: null }), 'ok.py'], 1, /pypy is pypy 3\.10\.14; memlens supports CPython only/],
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
    const io = memoryIo({ cwd: dir, env: { ...env, MEMLENS_AGENT_SANITIZE: 'no-such-sanitizer' } });
    const code = await main(['run', '--python', py, 'ok.py'], io);
    assert.equal(code, 1);
    assert.match(io.err(), /the agent is not built \(.*libmemlens_agent-no-such-sanitizer\.so is missing\)/);
  });
});
