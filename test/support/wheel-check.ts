// The check both halves of the per-Python wheel test run (wheel-on-older-pythons.test.ts,
// wheel-on-newer-pythons.test.ts: one file for all would outlast the runner's per-file timeout on a busy
// machine): pip install of the wheel into a fresh virtualenv of PY, used with no node on PATH.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { envWithoutNode, makeVenv, sh, wheelPath } from './pip.js';
import { REPO_ROOT, type TestPython } from './pythons.js';

const PROGRAMS = join(REPO_ROOT, 'test', 'pip', 'programs');
const MiB = 1024 * 1024;

interface ResultsDoc {
  schema: string;
  peak: { bytes: number; stacks: { bytes: number; frames: { function: string }[] }[] };
  leaks: { bytes: number; stacks: { bytes: number; frames: { function: string }[] }[] };
}

export function checkWheelOn(py: TestPython, work: string): void {
  const dir = join(work, `py-${py.version}${py.system ? '-system' : ''}`);
  const venv = makeVenv(py, join(dir, 'venv'), [wheelPath()]);
  const env = envWithoutNode(dir, venv.bin);
  assert.notEqual(sh('sh', ['-c', 'command -v node'], { env }).code, 0, 'node must not be on this PATH');

  const version = sh('memlens', ['--version'], { env, cwd: dir });
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, /^memlens \d+\.\d+\.\d+\n$/);

  const capture = join(dir, 'known.mlens');
  const run = sh('memlens', ['run', '-q', '-o', capture, join(PROGRAMS, 'known_alloc.py')], { env, cwd: dir });
  assert.equal(run.code, 0, run.stderr);
  // The launcher sets NODE_EXTRA_CA_CERTS aside while node starts and the CLI puts it back (src/util/extra-ca.ts):
  // the program sees it as the user set it.
  const caEnv = { ...env, NODE_EXTRA_CA_CERTS: '/etc/ssl/our ca.pem' };
  const code = 'import os; print(repr(os.environ.get("NODE_EXTRA_CA_CERTS")), repr(os.environ.get("MLENS_CA")))';
  const ca = sh('memlens', ['run', '-q', '-o', join(dir, 'env.mlens'), '-c', code], { env: caEnv, cwd: dir });
  assert.equal(ca.code, 0, ca.stderr);
  assert.equal(ca.stdout, "'/etc/ssl/our ca.pem' None\n");
  const results = sh(venv.python, ['-m', 'memlens', 'results', capture], { env, cwd: dir });
  assert.equal(results.code, 0, results.stderr);
  const doc = JSON.parse(results.stdout) as ResultsDoc;
  assert.equal(doc.schema, 'memlens.results/1');
  assert.ok(doc.peak.bytes >= 12 * MiB && doc.peak.bytes < 13 * MiB, `peak ${doc.peak.bytes}: make_peak's 12 MiB`);
  assert.equal(doc.peak.stacks[0]?.frames[0]?.function, 'make_peak');
  assert.ok(doc.leaks.bytes >= 3 * MiB && doc.leaks.bytes < 4 * MiB, `leaked ${doc.leaks.bytes}`);
  assert.equal(doc.leaks.stacks[0]?.frames[0]?.function, 'keep_some');

  const api = sh(venv.python, [join(PROGRAMS, 'api_check.py'), dir], { env, cwd: dir });
  assert.equal(api.code, 0, api.stderr);
  const facts = JSON.parse(api.stdout) as {
    with: {
      schema: string;
      peak_bytes: number;
      leaked_bytes: number;
      top_peak_function: string;
      top_peak_caller: string;
      leak_functions: string[];
      verdict_ending: string;
      findings_are_objects: boolean;
      attached: boolean;
    };
    decorator: number[];
    decorator_aggregated: boolean;
    errors: Record<string, string>;
    again_peak: number;
    census_has_bytearray: boolean;
    census_text_starts: string;
  };
  const w = facts.with;
  assert.ok(w.peak_bytes >= 12 * MiB && w.peak_bytes < 13 * MiB, `Tracker peak ${w.peak_bytes}`);
  assert.ok(w.leaked_bytes >= 5 * MiB && w.leaked_bytes < 6 * MiB, `Tracker leaks ${w.leaked_bytes} (3 MiB kept by keep_some, 2 MiB by a thread)`);
  assert.equal(w.top_peak_function, 'make_peak');
  assert.equal(w.top_peak_caller, '<module>');
  assert.deepEqual(w.leak_functions, ['in_a_thread', 'keep_some']);
  assert.equal(w.verdict_ending, 'stopped');
  assert.ok(w.findings_are_objects);
  assert.equal(w.attached, true);
  assert.ok((facts.decorator[0] ?? 0) >= 4 * MiB && (facts.decorator[0] ?? 0) < 5 * MiB, `first call ${facts.decorator[0]}`);
  assert.ok((facts.decorator[1] ?? 0) >= 6 * MiB && (facts.decorator[1] ?? 0) < 7 * MiB, `second call ${facts.decorator[1]}`);
  assert.equal(facts.decorator_aggregated, true);
  assert.match(facts.errors['nested'] ?? '', /^memlens\.Tracker\('.*outer\.mlens'\) is tracking already: trackers do not nest, end it first$/);
  assert.match(facts.errors['twice'] ?? '', /^this memlens\.Tracker has run already: a Tracker tracks once, create a new one$/);
  assert.match(facts.errors['exists'] ?? '', /with\.mlens exists: pass overwrite=True or choose another file name$/);
  assert.match(facts.errors['missing'] ?? '', /missing\.mlens: no such file/);
  for (const e of Object.values(facts.errors)) assert.ok(!e.includes('\n'), `one line: ${e}`);
  assert.ok(facts.again_peak >= 12 * MiB, 'a Tracker works after the refused ones');
  assert.ok(facts.census_has_bytearray);
  assert.match(facts.census_text_starts, /^Census of live Python objects in python-pid-\d+\.json: paused it for \d+ ms$/);
  rmSync(dir, { recursive: true, force: true });
}
