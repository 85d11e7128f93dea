// The capture header's writer version is memlens's own version, with package.json as its one home:
// scripts/build-agent.mjs passes it to the compiler (-DML_WRITER_VERSION), and header.c refuses to build
// without it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Oracle } from '../support/agent-oracle.js';
import { memlensRun, tempDir } from '../support/memlens-run.js';
import { REPO_ROOT, testPythons } from '../support/pythons.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
const tmp = tempDir('memlens-writer-version-');
after(tmp.remove);

test("a capture's header names the agent and package.json's version", async () => {
  const py = testPythons()[0];
  assert.ok(py !== undefined, 'no CPython in .cache/pythons.json');
  const dir = join(tmp.dir, 'run');
  mkdirSync(dir);
  const r = await memlensRun({ python: py.python, files: { 'p.py': 'x = bytearray(1000)\n' }, program: ['p.py'] }, dir);
  assert.equal(r.code, 0, r.stderr);
  const o = await Oracle.load(r.capture);
  assert.equal(o.header?.writerName, 'memlens-agent');
  assert.equal(o.header?.writerVersion, pkg.version);
});

test('the build takes the version from package.json, and the agent does not build without it', () => {
  // A copy of the build inputs with another version: the library must carry that one.
  const root = join(tmp.dir, 'copy');
  mkdirSync(join(root, 'scripts'), { recursive: true });
  cpSync(join(REPO_ROOT, 'agent', 'src'), join(root, 'agent', 'src'), { recursive: true });
  cpSync(join(REPO_ROOT, 'agent', 'cflags.json'), join(root, 'agent', 'cflags.json'));
  cpSync(join(REPO_ROOT, 'scripts', 'build-agent.mjs'), join(root, 'scripts', 'build-agent.mjs'));
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'memlens', version: '9.8.7-writer-test' }));
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-agent.mjs')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lib = readFileSync(join(root, 'agent', 'build', 'libmemlens_agent.so'));
  assert.ok(lib.includes(Buffer.from('\x009.8.7-writer-test\x00')), 'the version string is in the library');
  assert.ok(!lib.includes(Buffer.from(`\x00${pkg.version}\x00`)), "the repository's version is not");
  const cc = spawnSync(process.env['CC'] ?? 'cc', ['-std=c11', '-D_GNU_SOURCE', '-fsyntax-only', join(REPO_ROOT, 'agent', 'src', 'header.c')], { encoding: 'utf8' });
  assert.notEqual(cc.status, 0);
  assert.match(cc.stderr, /ML_WRITER_VERSION is not defined/);
});
