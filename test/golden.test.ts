// Golden captures (test/fixtures/captures/, see its README.md): the encoder still writes them byte for
// byte, and `memlens parse` prints what it printed before. UPDATE_GOLDEN=1 rewrites the files.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.js';
import { memoryIo } from './support/memory-io.js';
import { makeFixtures } from './fixtures/captures/make-fixtures.js';

const dir = fileURLToPath(new URL('../../test/fixtures/captures/', import.meta.url));
const update = process.env['UPDATE_GOLDEN'] === '1';

/** The first differing lines, with numbers, for a readable failure. */
function lineDiff(expected: string, actual: string): string {
  const e = expected.split('\n');
  const a = actual.split('\n');
  const out: string[] = [];
  for (let i = 0; i < Math.max(e.length, a.length) && out.length < 12; i++) {
    if (e[i] !== a[i]) out.push(`line ${i + 1}:\n  - ${e[i] ?? '(none)'}\n  + ${a[i] ?? '(none)'}`);
  }
  return out.join('\n');
}

function golden(name: string, actual: string): void {
  const path = `${dir}${name}`;
  if (update) {
    writeFileSync(path, actual);
    return;
  }
  assert.ok(existsSync(path), `${name} is missing: run the tests with UPDATE_GOLDEN=1`);
  const expected = readFileSync(path, 'utf8');
  if (expected !== actual) assert.fail(`${name} differs (UPDATE_GOLDEN=1 to accept):\n${lineDiff(expected, actual)}`);
}

const fixtures = makeFixtures();

for (const [name, bytes] of fixtures) {
  test(`golden capture ${name}: the encoder writes the same bytes`, () => {
    const path = `${dir}${name}`;
    if (update) writeFileSync(path, bytes);
    assert.ok(existsSync(path), `${name} is missing: run the tests with UPDATE_GOLDEN=1`);
    const onDisk = readFileSync(path);
    assert.ok(Buffer.compare(onDisk, bytes) === 0, `${name}: the encoder's output changed (${onDisk.length} bytes on disk, ${bytes.length} now)`);
  });

  for (const json of [false, true]) {
    test(`golden capture ${name}: memlens parse${json ? ' --json' : ''}`, async () => {
      const io = memoryIo({ cwd: dir });
      const code = await main(['parse', ...(json ? ['--json'] : []), name], io);
      const base = name.replace(/\.mlens$/, '');
      golden(`${base}.parse.${json ? 'jsonl' : 'txt'}`, io.out());
      if (!json) golden(`${base}.parse.stderr.txt`, `exit ${code}\n${io.err()}`);
      else assert.equal(code, 0);
    });
  }
}
