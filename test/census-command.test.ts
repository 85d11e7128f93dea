// memlens census: of a running process (injected like attach), of saved censuses, and of the censuses a
// capture holds (taken near OOM, or with --census-at-peak).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO_ROOT, testPythons } from './support/pythons.js';
import { NODE_FLAGS } from '../src/util/node-flags.js';

const MEMLENS = join(REPO_ROOT, 'bin', 'memlens.js');
const work = mkdtempSync(join(tmpdir(), 'memlens-census-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

function memlens(args: readonly string[]): { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...NODE_FLAGS, MEMLENS, ...args], { encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const pythons = testPythons();
const oldest = pythons[0];
const newest = pythons.filter((p) => !p.system).slice(-1)[0];

for (const py of [oldest, newest]) {
  test(`census of a running process counts a million objects of a known class (Python ${py?.version})`, async () => {
    assert.ok(py !== undefined);
    const child = spawn(py.python, [join(REPO_ROOT, 'test', 'python', 'census_target.py')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      while (!/ready (\d+)/.test(out)) await new Promise((r) => setTimeout(r, 50));
      const pid = /ready (\d+)/.exec(out)?.[1] ?? '';
      const first = join(work, `first-${py.version}.json`);
      const r = memlens(['census', pid, '-o', first, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const c = JSON.parse(r.stdout) as { schema: string; pause_ms: number; types: { type: string; count: number }[]; paths: { results: { path: string | null }[] } };
      assert.equal(c.types.find((t) => t.type === '__main__.Known')?.count, 1_000_000);
      assert.ok(c.pause_ms > 0);
      assert.equal(c.schema, 'memlens.census/1');
      assert.ok(c.paths.results.some((p) => p.path === "module __main__['HELD']"), JSON.stringify(c.paths));
      await new Promise((r2) => setTimeout(r2, 1500));
      const second = join(work, `second-${py.version}.json`);
      const t = memlens(['census', pid, '-o', second, '-n', '5']);
      assert.equal(t.code, 0, t.stderr);
      assert.match(t.stdout, /paused it for \d+ ms/);
      assert.match(t.stdout, /__main__\.Known\s+1,000,000/);
      const d = memlens(['census', first, second, '--json']);
      assert.equal(d.code, 0, d.stderr);
      const diff = JSON.parse(d.stdout) as { schema: string; changes: { type: string; count_before: number; count_after: number }[] };
      assert.equal(diff.schema, 'memlens.census-diff/1');
      const grown = diff.changes[0];
      assert.equal(grown?.type, 'bytearray', 'the type that accumulated comes first');
      assert.ok((grown?.count_after ?? 0) > (grown?.count_before ?? 0));
      assert.equal(diff.changes.find((x) => x.type === '__main__.Known'), undefined, 'an unchanged type is not listed');
    } finally {
      child.kill('SIGKILL');
    }
  });
}

test('memlens run --census-at-peak leaves censuses in the capture, and census reads them', () => {
  const prog = join(work, 'grow.py');
  writeFileSync(prog, ['import time', 'kept = []', 'for i in range(40):', '    kept.append([object() for _ in range(40_000)])', '    time.sleep(0.05)', ''].join('\n'));
  const cap = join(work, 'grow.mlens');
  const r = memlens(['run', '--census-at-peak', '-q', '-o', cap, prog]);
  assert.equal(r.code, 0, r.stderr);
  const c = memlens(['census', cap]);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /Census of live Python objects/);
  assert.match(c.stdout, /object\s+[\d,]+/);
});

test('a census near an OOM kill is in the capture', () => {
  const cap = join(work, 'oom.mlens');
  const r = memlens(['run', '--memory-limit', '150M', '-q', '-o', cap, join(REPO_ROOT, 'examples', 'batch_oom.py')]);
  // memlens ends the way the program did: killed by SIGKILL (the OOM killer's).
  assert.equal(r.signal, 'SIGKILL', r.stderr);
  const c = memlens(['census', cap]);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /Census of live Python objects/);
  assert.match(c.stdout, /bytes\s+[\d,]+/, 'the bytes objects the batch job accumulates');
  const p = spawnSync(process.execPath, [...NODE_FLAGS, MEMLENS, 'parse', '--json', cap], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const records = p.stdout.split('\n').filter((l) => l.includes('"census"') || l.includes('"exit"'));
  assert.ok(records.some((l) => l.includes('"label":"near-oom"')), 'the census is labelled near-oom');
  assert.ok(records.some((l) => l.includes('"oom_kill":1')), 'the EXIT record is there and says OOM kill');
  assert.equal(p.stderr, '', 'no damaged or cut block: the cut block was sealed before EXIT was appended');
});

test('bad census input gets one-line errors', () => {
  const junk = join(work, 'junk.json');
  writeFileSync(junk, '{"kind": "something else"}');
  const a = memlens(['census', junk]);
  assert.equal(a.code, 1);
  assert.match(a.stderr, /not a census/);
  const sleeper = spawn('sleep', ['30']);
  try {
    const b = memlens(['census', String(sleeper.pid)]);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /not a CPython process/);
  } finally {
    sleeper.kill();
  }
  const noCensus = memlens(['census', join(REPO_ROOT, 'test', 'fixtures', 'captures', 'realistic-small.mlens')]);
  assert.equal(noCensus.code, 1);
  assert.match(noCensus.stderr, /holds no census/);
});
