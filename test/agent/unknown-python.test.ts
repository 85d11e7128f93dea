// An interpreter whose frames the agent cannot read (here: one that says it is CPython 3.16, a version this
// agent does not know, through a sitecustomize that rewrites sys.hexversion and sys.version_info before the
// bootstrap reads them) is still tracked: one line on stderr names the version and what is still recorded,
// the program runs to its end unharmed, and its allocations are in the capture without Python stacks (with
// native stacks under --native). memlens attach says the same about a running process.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { NODE_FLAGS } from '../../src/util/node-flags.js';
import { Oracle } from '../support/agent-oracle.js';
import { MEMLENS_BIN, memlensRun, tempDir } from '../support/memlens-run.js';
import { bytearraySize, label, testPythons } from '../support/pythons.js';

const FUTURE = `import collections, sys
sys.hexversion = 0x031000F0
sys.version_info = collections.namedtuple("version_info", "major minor micro releaselevel serial")(3, 16, 0, "final", 0)
`;

const PROG = `KEEP = [bytearray(4_321_000)]
print("ok")
`;

const WARNING =
  /^memlens: warning: CPython 3\.16\.0: Python stacks are not supported on CPython 3\.16 \(this agent knows 3\.9 to 3\.15\); allocations are still recorded, without Python stacks \(native stacks with --native\)\n$/;

// The newest GIL interpreter: from 3.14 on, attach goes through remote execution (no debugger).
const py = [...testPythons()].reverse().find((p) => !p.freeThreaded && !p.system)!;

describe(`an interpreter the agent cannot read (CPython ${label(py)} posing as 3.16)`, () => {
  const tmp = tempDir();
  after(tmp.remove);
  const site = join(tmp.dir, 'site');
  mkdirSync(site);
  writeFileSync(join(site, 'sitecustomize.py'), FUTURE);

  for (const runArgs of [[], ['--native']]) {
    test(`memlens run${runArgs.map((x) => ` ${x}`).join('')}: one warning line; allocations recorded without Python stacks`, async () => {
      const r = await memlensRun({ python: py.python, files: { 'prog.py': PROG }, program: ['prog.py'], runArgs, env: { PYTHONPATH: site }, output: `future${runArgs.join('')}.mlens` }, tmp.dir);
      assert.match(r.stderr, WARNING);
      assert.equal(r.code, 0);
      assert.equal(r.stdout, 'ok\n');
      const o = await Oracle.load(r.capture);
      assert.deepEqual(o.warnings, []);
      assert.equal(o.header?.pythonVersion, '3.16.0');
      const found = o.allocs.filter((a) => a.size === bytearraySize(py, 4_321_000));
      assert.equal(found.length, 1, 'the allocation is recorded');
      assert.deepEqual(o.stack(found[0]!), [], 'without a Python stack');
      if (runArgs.includes('--native')) assert.ok(found[0]!.nativeStack > 0, 'with its native stack');
      assert.ok(
        o.metas.some((m) => m.type === 'note' && m.text.includes('without Python stacks') && m.text.includes('3.16')),
        'the capture says why it has no Python stacks',
      );
      assert.equal(o.records('trailer').length, 1);
    });
  }

  test('memlens attach: the same warning, and the target runs on unharmed', async () => {
    const code =
      'import os, sys, time\nprint("ready", os.getpid(), flush=True)\nKEEP = []\nfor i in range(400):\n    KEEP.append(bytearray(1000))\n    time.sleep(0.01)\nprint("done", sys.hexversion == 0x031000F0, flush=True)\n';
    const child = spawn(py.python, ['-c', code], { env: { ...process.env, PYTHONPATH: site }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const deadline = Date.now() + 20_000;
    while (!/ready \d+/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const pid = Number(/ready (\d+)/.exec(out)?.[1]);
    const capture = join(tmp.dir, 'attached.mlens');
    const a = spawnSync(process.execPath, [...NODE_FLAGS, MEMLENS_BIN, 'attach', String(pid), '-o', capture], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(a.status, 0, a.stderr);
    const warnings = a.stderr.split('\n').filter((l) => l.startsWith('memlens: warning'));
    assert.equal(warnings.length, 1, a.stderr);
    assert.match(`${warnings[0]}\n`, WARNING);
    const d = spawnSync(process.execPath, [...NODE_FLAGS, MEMLENS_BIN, 'detach', String(pid)], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(d.status, 0, d.stderr);
    assert.equal(await exited, 0, out);
    assert.match(out, /done True/);
    const o = await Oracle.load(capture);
    const kept = o.allocs.filter((x) => x.size === bytearraySize(py, 1000));
    assert.ok(kept.length > 0, "the loop's allocations are recorded");
    assert.ok(
      kept.every((x) => o.stack(x).length === 0),
      'without Python stacks',
    );
  });
});
