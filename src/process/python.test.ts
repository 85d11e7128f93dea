import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TargetError } from '../errors.js';
import { checkPlatform } from './agent-files.js';
import { findPython } from './python.js';

const dir = mkdtempSync(join(tmpdir(), 'memlens-python-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function exe(path: string, mode = 0o755): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, mode);
  return path;
}

test('findPython: the first executable python3 on PATH, as a shell finds it (a virtualenv first)', () => {
  exe(join(dir, 'notexec', 'python3'), 0o644);
  const venv = exe(join(dir, 'venv', 'bin', 'python3'));
  exe(join(dir, 'usr', 'bin', 'python3'));
  const PATH = [join(dir, 'empty'), join(dir, 'notexec'), join(dir, 'venv', 'bin'), join(dir, 'usr', 'bin')].join(':');
  assert.equal(findPython({ PATH }, '/'), venv);
  assert.equal(findPython({ PATH: `venv/bin:${PATH}` }, dir), venv, 'relative PATH entries are relative to the current directory');
});

test('findPython: --python wins; a path is checked, a bare name is looked up on PATH', () => {
  const other = exe(join(dir, 'opt', 'python3.12'));
  assert.equal(findPython({ PATH: '' }, dir, other), other);
  assert.equal(findPython({ PATH: '' }, dir, 'opt/python3.12'), other);
  assert.equal(findPython({ PATH: join(dir, 'opt') }, '/', 'python3.12'), other);
  assert.throws(
    () => findPython({ PATH: '' }, dir),
    (e: unknown) => e instanceof TargetError && /no python3 found on PATH/.test(e.message),
  );
  assert.throws(() => findPython({ PATH: '' }, dir, 'python9'), /--python python9: not found on PATH/);
  assert.throws(() => findPython({}, dir, join(dir, 'notexec', 'python3')), /not an executable file/);
});

test('checkPlatform: Linux on x86-64 and arm64 only', () => {
  checkPlatform('linux', 'x64');
  checkPlatform('linux', 'arm64');
  assert.throws(() => checkPlatform('darwin', 'arm64'), /needs Linux on x86-64 or arm64; this is darwin on arm64/);
  assert.throws(() => checkPlatform('linux', 'ia32'), /this is linux on ia32/);
});
