// What a report's process loads: node's fs/promises, readline and file watchers stay unloaded (reports read their
// capture through node:fs's callbacks: src/cli/capture-file.ts), about 0.6 MiB of every report's peak
// (docs/benchmarks.md, "stats' peak, round thirteen"). The real CLI, as its first line starts it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MEMLENS_BIN, tempDir } from './support/memlens-run.js';
import { REPO_ROOT } from './support/pythons.js';
import { NODE_FLAGS } from '../src/util/node-flags.js';

const tmp = tempDir('memlens-report-modules-');
after(() => tmp.remove());
const dir = tmp.dir;

test("a report reads its capture without node's fs/promises (and the readline and file watchers behind it)", () => {
  // About 0.6 MiB of every report's peak (docs/benchmarks.md, "stats' peak, round thirteen"). The real CLI, as
  // its first line starts it; the modules node loaded, written at exit by a required file.
  const hook = join(dir, 'modules.cjs');
  const list = join(dir, 'modules.txt');
  writeFileSync(hook, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')));\n`);
  const capture = join(REPO_ROOT, 'test', 'fixtures', 'captures', 'realistic-small.mlens');
  for (const command of ['stats', 'summary', 'verdict']) {
    const r = spawnSync(process.execPath, [...NODE_FLAGS, '--require', hook, MEMLENS_BIN, command, capture], { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } });
    assert.equal(r.status, 0, r.stderr);
    const loaded = readFileSync(list, 'utf8').split('\n');
    assert.ok(loaded.includes('NativeModule zlib'), `${command}: the module list is read`);
    assert.deepEqual(
      loaded.filter((m) => /fs\/promises|readline/.test(m)),
      [],
      command,
    );
  }
});
