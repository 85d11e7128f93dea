// Patching an object that dlopen (in another thread) is still relocating must not break the loader. The
// service thread scans for new objects every 10 ms; numpy's import loads big libraries whose relocation
// takes long enough to be caught in the middle. Before slots were written through /proc/self/mem, a third
// of these runs died of SIGSEGV inside the loader (the page was made read-only again under it).
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO_ROOT, testPythons } from '../support/pythons.js';
import { NODE_FLAGS } from '../../src/util/node-flags.js';

const work = mkdtempSync(join(tmpdir(), 'memlens-load-race-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('importing numpy under --native, again and again, never crashes the program', () => {
  const py = testPythons().find((p) => p.minor === 11 && !p.system) ?? testPythons()[0];
  assert.ok(py !== undefined);
  const prog = join(work, 'np.py');
  writeFileSync(prog, 'import numpy as np\nprint(float((np.ones((300, 300)) @ np.ones((300, 300))).sum()))\n');
  for (let i = 0; i < 10; i++) {
    const args: string[] = [...NODE_FLAGS, join(REPO_ROOT, 'bin', 'memlens.js'), 'run', '--native', '-q', '-f', '-o', join(work, 'np.mlens'), '--python', py.python, prog];
    const r: SpawnSyncReturns<string> = spawnSync(process.execPath, args, { encoding: 'utf8' });
    assert.equal(r.signal, null, `run ${i}: the program died of ${r.signal}: ${r.stderr}`);
    assert.equal(r.status, 0, `run ${i}: ${r.stderr}`);
    assert.equal(r.stdout.trim(), '27000000.0');
  }
});
