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

interface CensusJson {
  schema: string;
  pause_ms: number;
  types: { type: string; count: number }[];
  paths: { results: { target?: string; path: string | null; reason?: string }[] };
  path_groups: { pattern: string | null; type: string; count: number; bytes: number }[];
  path_search: { partial: boolean; bound: string | null };
}

for (const py of [oldest, newest]) {
  test(`census of a running process counts objects of a known class and groups them by path (Python ${py?.version})`, async () => {
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
      const c = JSON.parse(r.stdout) as CensusJson;
      assert.equal(c.types.find((t) => t.type === '__main__.Known')?.count, 200_000);
      assert.ok(c.pause_ms > 0);
      assert.equal(c.schema, 'memlens.census/1');
      // The search is bounded by work and CPU time, not wall time: on a loaded machine it still covers
      // this heap (some 400,000 objects, far below its bound of 3,000,000).
      assert.equal(c.path_search.partial, false, JSON.stringify(c.path_search));
      assert.ok(
        c.paths.results.some((p) => p.path === "module __main__['HELD']"),
        JSON.stringify(c.paths),
      );
      assert.equal(c.paths.results.length, 10, 'the 10 largest objects, each with a path or a reason');
      for (const p of c.paths.results) assert.ok(p.path !== null || (p.reason ?? '') !== '', JSON.stringify(p));
      const held = c.path_groups.find((g) => g.pattern === "module __main__['HELD'][*]" && g.type === '__main__.Known');
      assert.equal(held?.count, 200_000, JSON.stringify(c.path_groups.slice(0, 6)));
      const growing = c.path_groups.find((g) => g.pattern === "module __main__['GROWING'][*]" && g.type === 'bytearray');
      assert.ok((growing?.count ?? 0) >= 1000, JSON.stringify(c.path_groups.slice(0, 6)));
      await new Promise((r2) => setTimeout(r2, 1500));
      const second = join(work, `second-${py.version}.json`);
      const t = memlens(['census', pid, '-o', second, '-n', '5', '--paths', '3']);
      assert.equal(t.code, 0, t.stderr);
      assert.match(t.stdout, /paused it for \d+ ms/);
      assert.match(t.stdout, /__main__\.Known\s+200,000/);
      assert.match(t.stdout, /\nWhat keeps them alive, by path \(objects of [^)]*__main__\.Known[^)]*; a key or index that varies shows as \[\*\]\)\nObjects +Bytes +Share +Type +Path\n/);
      assert.match(t.stdout, /\n *200,000 +[\d.]+ [KM]iB +[\d.]+% +__main__\.Known +module __main__\['HELD'\]\[\*\]\n/);
      assert.match(t.stdout, /\n *[\d,]+ +[\d.]+ [KM]iB +[\d.]+% +bytearray +module __main__\['GROWING'\]\[\*\]\n/);
      // Only the largest objects it has a path for: three, each with its path or the reason it has none.
      const largest = t.stdout.split('Largest objects and what keeps each alive\n')[1]?.split('\n\n')[0]?.split('\n') ?? [];
      assert.equal(largest.length, 3, t.stdout);
      for (const l of largest) assert.match(l, /held by module|not reachable|stopped at/);
      const d = memlens(['census', first, second, '--json']);
      assert.equal(d.code, 0, d.stderr);
      const diff = JSON.parse(d.stdout) as { schema: string; changes: { type: string; count_before: number; count_after: number }[] };
      assert.equal(diff.schema, 'memlens.census-diff/1');
      const grown = diff.changes[0];
      assert.equal(grown?.type, 'bytearray', 'the type that accumulated comes first');
      assert.ok((grown?.count_after ?? 0) > (grown?.count_before ?? 0));
      assert.equal(
        diff.changes.find((x) => x.type === '__main__.Known'),
        undefined,
        'an unchanged type is not listed',
      );
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

/**
 * What a near-OOM census guarantees whatever the machine's speed (docs/census.md, "Near an OOM kill"): its
 * paths are in the capture, the search stopped (if it did) at a bound it names, and the program's own data
 * (batch_oom.py's chunks, under main's local `loaded`) was searched first, so it is counted whole.
 */
function assertKeptPaths(json: CensusJson): void {
  const loaded = json.path_groups.find((g) => g.type === 'bytes' && /local loaded\[\*\]\[\*\]$/.test(g.pattern ?? ''));
  assert.ok((loaded?.count ?? 0) >= 10_000, JSON.stringify(json.path_groups.slice(0, 5)));
  assert.equal(loaded!.count % 10_000, 0, "every chunk whole: the program's own roots are searched first");
  if (json.path_search.partial) assert.match(json.path_search.bound ?? '', /its (memory|work|CPU-time) bound/);
}

test('a census near an OOM kill is in the capture', () => {
  const cap = join(work, 'oom.mlens');
  const r = memlens(['run', '--memory-limit', '150M', '-q', '-o', cap, join(REPO_ROOT, 'examples', 'batch_oom.py')]);
  // memlens ends the way the program did: killed by SIGKILL (the OOM killer's).
  assert.equal(r.signal, 'SIGKILL', r.stderr);
  const c = memlens(['census', cap]);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /Census of live Python objects/);
  assert.match(c.stdout, /bytes\s+[\d,]+/, 'the bytes objects the batch job accumulates');
  // Written at once and again with its paths (an OOM kill during the search would not cost the census):
  // one census for the reader.
  assert.doesNotMatch(c.stdout, /first and last of/);
  // The near-OOM census carries reference paths: the bytes are held by main's local list of chunks.
  const withPaths = memlens(['census', '--paths', '10', cap]);
  assert.equal(withPaths.code, 0, withPaths.stderr);
  // (memlens run starts the program in its own working directory: the file is named as given there.)
  assert.match(withPaths.stdout, /\n *[\d,]+ +[\d.]+ MiB +[\d.]+% +bytes +thread MainThread, main \([^)]*batch_oom\.py:\d+\) local loaded\[\*\]\[\*\]\n/, withPaths.stdout);
  const json = JSON.parse(memlens(['census', '--json', cap]).stdout) as CensusJson;
  assertKeptPaths(json);
  // The verdict shows it beside the allocation sites, and never blames the program for the census's pause.
  const v = memlens(['verdict', cap]);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /\nWhat holds the memory: a census of live Python objects at [\d.]+ s, near OOM\n/);
  assert.match(v.stdout, /\n {2}Held by \(objects grouped by the path that keeps them alive; \[\*\]: any key or index\)\n/);
  assert.match(v.stdout, / bytes +thread MainThread, main \([^)]*\) local loaded\[\*\]\[\*\]\n/);
  assert.doesNotMatch(v.stdout, /The collector was disabled/);
  const s = memlens(['summary', cap]);
  assert.match(s.stdout, /\n {2}Held by thread MainThread, main \(/);
  const p = spawnSync(process.execPath, [...NODE_FLAGS, MEMLENS, 'parse', '--json', cap], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const records = p.stdout.split('\n').filter((l) => l.includes('"census"') || l.includes('"exit"'));
  assert.ok(
    records.some((l) => l.includes('"label":"near-oom"')),
    'the census is labelled near-oom',
  );
  const parts = records.filter((l) => l.includes('"label":"near-oom"'));
  assert.equal(parts.length, 2, 'the census, then the census with its paths');
  assert.ok(!parts[0]!.includes('path_groups') && parts[1]!.includes('path_groups'));
  assert.ok(
    records.some((l) => l.includes('"oom_kill":1')),
    'the EXIT record is there and says OOM kill',
  );
  assert.equal(p.stderr, '', 'no damaged or cut block: the cut block was sealed before EXIT was appended');
  // The agent does not record the census's own gc.disable() at all (batch_oom.py never disables it).
  const states = p.stdout.split('\n').filter((l) => l.includes('"type":"gc-state"'));
  assert.ok(states.length > 0, 'the state at start is recorded');
  assert.ok(
    states.every((l) => l.includes('"enabled":1') || l.includes('"enabled":true')),
    states.join('\n'),
  );
});

test('a near-OOM census that starts late, as on a busy machine, keeps its paths', () => {
  // On a busy machine the agent's service thread may notice the usage late: the census then starts nearer
  // the limit, and a search that took the room it needed was killed before its paths were written (the
  // census alone was in the capture: before the memory bound, every run of this test). A census 10 points
  // below a near-OOM share of 0.95 starts at 85% of 150 MB, where one noticed a chunk late would (batch_oom.py
  // loads 8 MB at a time): the search stops at its memory bound instead, after the program's own roots
  // (the chunks, counted whole even when the census starts another chunk later), and its paths are written
  // before the program goes on.
  const cap = join(work, 'oom-late.mlens');
  const r = memlens(['run', '--memory-limit', '150M', '--near-oom', '0.95', '-q', '-o', cap, join(REPO_ROOT, 'examples', 'batch_oom.py')]);
  assert.equal(r.signal, 'SIGKILL', r.stderr);
  const p = spawnSync(process.execPath, [...NODE_FLAGS, MEMLENS, 'parse', '--json', cap], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const parts = p.stdout.split('\n').filter((l) => l.includes('"type":"census"') && l.includes('"label":"near-oom"'));
  assert.equal(parts.length, 2, 'the census, then the census with its paths');
  assert.ok(parts[1]!.includes('path_groups'), parts[1]!.slice(0, 300));
  assert.ok(p.stdout.includes('"oom_kill":1'), 'the program was killed by the OOM killer after the census');
  const json = JSON.parse(memlens(['census', '--json', cap]).stdout) as CensusJson;
  assertKeptPaths(json);
  const c = memlens(['census', '--paths', '10', cap]);
  assert.match(c.stdout, /\n *[\d,]+ +[\d.]+ MiB +[\d.]+% +bytes +thread MainThread, main \([^)]*batch_oom\.py:\d+\) local loaded\[\*\]\[\*\]\n/, c.stdout);
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
  const badPaths = memlens(['census', '--paths', 'many', junk]);
  assert.equal(badPaths.code, 2, badPaths.stderr);
  assert.match(badPaths.stderr, /census: --paths: give a whole number, 0 or more \(not 'many'\)/);
  const noCensus = memlens(['census', join(REPO_ROOT, 'test', 'fixtures', 'captures', 'realistic-small.mlens')]);
  assert.equal(noCensus.code, 1);
  assert.match(noCensus.stderr, /holds no census/);
});
