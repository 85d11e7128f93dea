// Native frames are named by memlens from the image files (never in the target): a numpy allocation made
// with --native shows numpy's own C functions, found in the library's symbol table through the IMAGE records.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  // The whole native stack, outermost first: the interpreter's entry, then its eval loop, then numpy's C. A
  // stack whose parents were read wrong (a reader and an agent of different NATIVE_FRAME codings) loses them.
  const foldedPath = join(work, 'nat.folded');
  memlens(['export', '--format', 'folded', '--show-internal-frames', '-o', foldedPath, cap]);
  const folded = readFileSync(foldedPath, 'utf8').split('\n');
  const big = folded.find((l) => l.includes('_multiarray_umath') && Number(l.slice(l.lastIndexOf(' ') + 1)) >= 24_000_000);
  assert.ok(big !== undefined, folded.slice(0, 3).join('\n'));
  const frames = big.slice(0, big.lastIndexOf(' ')).split(';');
  const at = (re: RegExp): number => frames.findIndex((f) => re.test(f));
  const entry = at(/^Py_(BytesMain|RunMain|Main) /);
  const evalLoop = at(/^_PyEval_EvalFrameDefault /);
  const numpy = at(/_multiarray_umath/);
  assert.ok(entry >= 0 && entry < evalLoop && evalLoop < numpy, big);
});
