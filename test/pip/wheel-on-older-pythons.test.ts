// pip install of the built wheel into a fresh virtualenv of each of the older half of the CPythons on the
// machine, used with no node on PATH: the memlens command, python -m memlens, and the Python API in the
// interpreter itself (test/support/wheel-check.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkWheelOn } from '../support/wheel-check.js';
import { label, testPythons } from '../support/pythons.js';

const work = mkdtempSync(join(tmpdir(), 'memlens-wheel-test-'));
after(() => rmSync(work, { recursive: true, force: true }));
const all = testPythons();

for (const py of all.slice(0, Math.ceil(all.length / 2))) {
  test(`pip install of the wheel, used without node on PATH (Python ${label(py)})`, () => {
    checkWheelOn(py, work);
  });
}
