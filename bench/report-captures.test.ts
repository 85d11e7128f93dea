// bench/report-captures.ts: its command line, its workload list against bench/report-workloads/, and one
// real capture at a tiny size over a stale file (a failed run must not leave last time's capture behind).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, testPythons } from '../test/support/pythons.js';
import { countEvents, parseArgs, plan, scaledSize, speedArgs, WORKLOAD_DIR, WORKLOADS } from './report-captures.js';

test('report-captures: every script of bench/report-workloads/ is in the list, and only those', () => {
  const scripts = readdirSync(WORKLOAD_DIR)
    .filter((f) => f.endsWith('.py'))
    .map((f) => f.slice(0, -3))
    .sort();
  assert.deepEqual(WORKLOADS.map((w) => w.name).sort(), scripts);
  assert.ok(scripts.length >= 6, scripts.join(', '));
});

test('report-captures: the command line', () => {
  const all = parseArgs(['out']);
  assert.equal(all.workloads.length, WORKLOADS.length);
  assert.deepEqual(all.tools, ['memlens', 'memray']);
  assert.match(all.python, /bench-venv\/bin\/python3$/);
  const some = parseArgs(['out', '--only', 'churn', '--only', 'threads', '--scale', '0.5', '--tool', 'memray', '--python', '/x/python3']);
  assert.deepEqual(
    some.workloads.map((w) => w.name),
    ['churn', 'threads'],
  );
  assert.deepEqual(some.tools, ['memray']);
  assert.equal(some.python, '/x/python3');
  assert.equal(
    scaledSize(
      WORKLOADS.find((w) => w.name === 'churn')!,
      0.5,
    ),
    1_200_000,
  );
  assert.throws(() => parseArgs([]), /usage/);
  assert.throws(() => parseArgs(['out', 'other']), /one directory only/);
  assert.throws(() => parseArgs(['out', '--only', 'nosuch']), /no workload nosuch/);
  assert.throws(() => parseArgs(['out', '--scale', '0']), /not a positive number/);
  assert.throws(() => parseArgs(['out', '--scale']), /needs a value/);
  assert.throws(() => parseArgs(['out', '--tool', 'heaptrack']), /memlens or memray/);
  assert.throws(() => parseArgs(['out', '--bogus']), /unknown option/);
});

test('report-captures: both tools trace Python allocators into DIR/NAME.mlens and DIR/NAME.bin', () => {
  const o = parseArgs(['/tmp/caps', '--only', 'accumulate', '--python', '/py']);
  const [ml, mr] = plan(o);
  assert.equal(ml?.output, '/tmp/caps/accumulate.mlens');
  assert.deepEqual(ml?.args.slice(0, 7), ['run', '-q', '--trace-python-allocators', '--python', '/py', '-o', '/tmp/caps/accumulate.mlens']);
  assert.equal(ml?.args.at(-1), '3850000');
  assert.equal(mr?.cmd, '/py');
  assert.deepEqual(mr?.args.slice(0, 7), ['-m', 'memray', 'run', '-q', '--trace-python-allocators', '-o', '/tmp/caps/accumulate.bin']);
  assert.deepEqual(speedArgs(o), ['accumulate=/tmp/caps/accumulate.mlens,/tmp/caps/accumulate.bin']);
  assert.deepEqual(speedArgs(parseArgs(['/tmp/caps', '--only', 'churn', '--tool', 'memlens'])), ['churn=/tmp/caps/churn.mlens']);
});

test('report-captures: a real capture at a tiny size replaces a stale one', () => {
  const python = testPythons().find((p) => !p.freeThreaded)!.python;
  const dir = mkdtempSync(join(tmpdir(), 'memlens-report-captures-'));
  try {
    const stale = join(dir, 'churn.mlens');
    writeFileSync(stale, 'last time');
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'bench', 'report-captures.js'), dir, '--only', 'churn', '--scale', '0.0002', '--tool', 'memlens', '--python', python], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `churn=${stale}\n`);
    assert.ok(statSync(stale).size > 1000);
    // 480 records of about 21 events each, and the interpreter's own.
    assert.ok(countEvents(stale) > 480 * 15, String(countEvents(stale)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
