// Memory pressure (PSI) in the agent: psi.c parses the kernel's text into raw numbers, and a real run
// writes them as PRESSURE records (never a MEMORY_PRESSURE marker: deciding is the reader's job,
// src/analysis/memory-pressure.ts).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MARKER_KINDS } from '../../src/capture/format.js';
import { AGENT_SRC, AGENT_TEST, compile, STRICT_CFLAGS } from '../pyframes/support.js';
import { Oracle } from '../support/agent-oracle.js';
import { memlensRun, tempDir } from '../support/memlens-run.js';
import { testPythons } from '../support/pythons.js';

const tmp = tempDir('memlens-pressure-');
after(tmp.remove);

function parse(text: string): string {
  const exe = join(tmp.dir, 'psi_check');
  if (!existsSync(exe)) {
    const cc = compile([...STRICT_CFLAGS, '-o', exe, join(AGENT_TEST, 'psi_check.c'), join(AGENT_SRC, 'psi.c'), join(AGENT_SRC, 'util.c')]);
    assert.equal(cc.status, 0, cc.stderr);
  }
  const r = spawnSync(exe, { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('psi.c reads the kernel text into hundredths of a percent and µs', () => {
  const kernel = 'some avg10=12.34 avg60=0.40 avg300=100.00 total=1171218\nfull avg10=0.05 avg60=0.00 avg300=0.00 total=82806\n';
  assert.equal(parse(kernel), '0 1234 40 10000 1171218 1 5 0 0 82806');
  // No "full" line (kernels before 4.20 had none for some resources): zeros and no flag.
  assert.equal(parse('some avg10=1.00 avg60=2.00 avg300=3.00 total=4\n'), '0 100 200 300 4 0 0 0 0 0');
  // More decimals than two are cut, not rounded; a missing fraction is whole percents.
  assert.equal(parse('some avg10=9.999 avg60=7 avg300=0.5 total=0\n'), '0 999 700 50 0 0 0 0 0 0');
  // Not a pressure file: refused.
  assert.equal(parse('full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n').split(' ')[0], '-1');
  assert.equal(parse('').split(' ')[0], '-1');
});

test('a run records the kernel numbers as PRESSURE records, and no pressure marker', async () => {
  const py = testPythons()[0];
  assert.ok(py !== undefined, 'no CPython in .cache/pythons.json');
  const dir = join(tmp.dir, 'run');
  mkdirSync(dir);
  // Over a second: the service thread reads PSI once a second.
  const r = await memlensRun({ python: py.python, files: { 'p.py': 'import time\nx = [bytearray(1000) for _ in range(100)]\ntime.sleep(1.6)\n' }, program: ['p.py'] }, dir);
  assert.equal(r.code, 0, r.stderr);
  const o = await Oracle.load(r.capture);
  const marker = MARKER_KINDS.indexOf('memory-pressure');
  assert.equal(o.records('marker').filter((m) => m.kind === marker).length, 0);
  const samples = o.records('pressure');
  // A kernel with PSI (CONFIG_PSI, not disabled with psi=0) has /proc/pressure/memory, and a cgroup v2's
  // memory.pressure with it: the agent reads one of the two.
  const psi = existsSync('/proc/pressure/memory');
  assert.equal(samples.length > 0, psi, psi ? 'no PRESSURE record from a 1.6 s run on a kernel with PSI' : 'PRESSURE records without PSI');
  for (const p of samples) {
    assert.match(p.source, /^\/(proc\/pressure\/memory|.*\/memory\.pressure)$/);
    for (const v of [p.someAvg10, p.someAvg60, p.someAvg300]) assert.ok(v >= 0 && v <= 10_000, `${v}`);
    assert.ok(p.fullAvg10 !== undefined, 'the kernel prints a full line for memory');
  }
  for (let i = 1; i < samples.length; i++) {
    assert.ok((samples[i]?.someTotalUs ?? 0) >= (samples[i - 1]?.someTotalUs ?? 0), 'stall time never goes back');
  }
});
