// Native frames are named by memlens from the image files (never in the target): a numpy allocation made
// with --native shows numpy's own C functions, found in the library's symbol table through the IMAGE records.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO_ROOT, testPythons } from './support/pythons.js';
import { NODE_FLAGS } from '../src/util/node-flags.js';

const work = mkdtempSync(join(tmpdir(), 'memlens-native-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('native frames are symbolized from the images the capture names', () => {
  const py = testPythons().find((p) => !p.system) ?? testPythons()[0];
  assert.ok(py !== undefined);
  const prog = join(work, 'nat.py');
  writeFileSync(prog, 'import numpy as np\nKEEP = np.ones(3_000_000)\n');
  const cap = join(work, 'nat.mlens');
  const memlens = (args: string[]): string => {
    const r = spawnSync(process.execPath, [...NODE_FLAGS, join(REPO_ROOT, 'bin', 'memlens.js'), ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  memlens(['run', '--native', '-q', '-o', cap, '--python', py.python, prog]);
  const rows = (JSON.parse(memlens(['summary', '--json', '--max-rows', '200', cap])) as { rows: { function: string; file: string; total_bytes: number }[] }).rows;
  const numpyC = rows.filter((r) => r.file.includes('_multiarray_umath') && r.total_bytes >= 24_000_000);
  assert.ok(numpyC.length > 0, JSON.stringify(rows.slice(0, 8)));
  for (const r of numpyC) assert.doesNotMatch(r.function, /\+0x[0-9a-f]+$/, `${r.function} is a function name, not an offset`);
  assert.ok(
    numpyC.some((r) => /^(PyDataMem_UserNEW|default_malloc|PyArray_NewFromDescr_int|array_empty)$/.test(r.function)),
    JSON.stringify(numpyC),
  );
});
