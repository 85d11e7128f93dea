// Golden captures (test/fixtures/captures/, see its README.md): the encoder still writes them byte for
// byte, and `memlens parse` prints what it printed before. UPDATE_GOLDEN=1 rewrites the files.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { main } from '../src/cli/main.js';
import { checkGolden, FIXTURES, UPDATE_GOLDEN } from './support/golden.js';
import { memoryIo } from './support/memory-io.js';
import { makeFixtures } from './fixtures/captures/make-fixtures.js';

const dir = join(FIXTURES, 'captures');
const golden = (name: string, actual: string): void => checkGolden(join(dir, name), actual);

const fixtures = makeFixtures();

for (const [name, bytes] of fixtures) {
  test(`golden capture ${name}: the encoder writes the same bytes`, () => {
    const path = join(dir, name);
    if (UPDATE_GOLDEN) writeFileSync(path, bytes);
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
