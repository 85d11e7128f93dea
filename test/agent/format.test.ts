// The agent's C code is formatted as .clang-format says (scripts/check-agent-format.mjs), and the check
// does fail on code that is not.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tempDir } from '../support/memlens-run.js';
import { REPO_ROOT } from '../support/pythons.js';

const CHECK = join(REPO_ROOT, 'scripts', 'check-agent-format.mjs');
const tmp = tempDir('memlens-format-');
after(tmp.remove);

test('every agent C file is formatted', () => {
  const r = spawnSync(process.execPath, [CHECK], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^check-agent-format: \d+ files formatted/);
});

test('the check fails on a file that is not, naming it; --fix formats it', () => {
  const file = join(tmp.dir, 'util.c');
  copyFileSync(join(REPO_ROOT, 'agent', 'src', 'util.c'), file);
  writeFileSync(file, readFileSync(file, 'utf8').replace('size_t ml_strlcpy(char *dst, const char *src, size_t cap) {', 'size_t  ml_strlcpy(char* dst,const char *src, size_t cap)\n{'));
  const r = spawnSync(process.execPath, [CHECK, file], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stderr, /util\.c is not formatted as \.clang-format says: run node scripts\/check-agent-format\.mjs --fix/);
  const fix = spawnSync(process.execPath, [CHECK, '--fix', file], { encoding: 'utf8' });
  assert.equal(fix.status, 0, fix.stderr);
  assert.equal(readFileSync(file, 'utf8'), readFileSync(join(REPO_ROOT, 'agent', 'src', 'util.c'), 'utf8'));
});
