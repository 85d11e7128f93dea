// The census and the reference-path search of agent/python/memlens_census.py, run inside real Pythons on a
// known heap. The search is bounded by work (objects visited), not by time: the test turns the CPU-time
// bound off, so its verdict is the same on an idle and on a loaded machine.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { containerInfo } from './support/container.js';
import { REPO_ROOT as repoRoot, label, testPythons } from './support/pythons.js';

interface PathResult {
  target?: string;
  path: string | null;
  reason?: string;
}
interface Census {
  pause_ms: number;
  partial: boolean;
  types: { type: string; count: number; bytes: number }[];
  largest_objects: { type: string; bytes: number; length: number; id: number }[];
  path_groups: { pattern: string | null; type: string; count: number; bytes: number; example: string | null; reason?: string }[];
  path_search: { visited: number; depth: number; partial: boolean; bound: string | null };
  paths: { results: PathResult[] };
}

type Heap = { census: Census; paths: { results: PathResult[] } };

function knownHeap(python: string, mode: 'full' | 'small' | 'memory'): Heap {
  const r = spawnSync(python, [join(repoRoot, 'test/python/census_known_heap.py'), join(repoRoot, 'agent/python'), mode], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Heap;
}

/** The same, with CPython 3.14 of the Debian sid root (test/support/container.ts). */
function knownHeapIn314(): Heap {
  const { root, python } = containerInfo();
  const dir = mkdtempSync(join(root, 'tmp', 'memlens-census-test-'));
  try {
    for (const f of ['agent/python/memlens_census.py', 'test/python/census_known_heap.py']) copyFileSync(join(repoRoot, f), join(dir, basename(f)));
    const inside = `/tmp/${basename(dir)}`;
    const r = spawnSync('unshare', ['-m', 'sh', '-c', 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"', root, python, `${inside}/census_known_heap.py`, inside, 'full'], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Heap;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const pythons: { name: string; heap: () => Heap }[] = [...testPythons().map((py) => ({ name: label(py), heap: () => knownHeap(py.python, 'full') })), { name: '3.14 (Debian sid)', heap: knownHeapIn314 }];

for (const py of pythons) {
  test(`census counts objects of a known class and groups what keeps them by path, on Python ${py.name}`, () => {
    const { census, paths } = py.heap();
    const known = census.types.find((t) => t.type === '__main__.Known');
    assert.equal(known?.count, 100_000);
    assert.ok(known.bytes >= 100_000 * 16);
    assert.equal(census.partial, false);
    assert.ok(census.pause_ms > 0);
    // One pass over the heap reached everything: no bound, and the groups have the shape of the paths.
    assert.equal(census.path_search.partial, false, JSON.stringify(census.path_search));
    assert.equal(census.path_search.bound, null);
    const group = (pattern: string, type: string) => census.path_groups.find((g) => g.pattern === pattern && g.type === type);
    const sessions = group("module __main__['SESSIONS'][*].payload", 'bytearray');
    assert.equal(sessions?.count, 300, JSON.stringify(census.path_groups.slice(0, 8)));
    assert.ok(sessions.bytes >= 300 * 50_000);
    assert.match(sessions.example ?? '', /^module __main__\['SESSIONS'\]\['session-\d+'\]\.payload$/);
    assert.equal(group("module __main__['HELD_BY_GLOBAL'][*]", '__main__.Known')?.count, 100_000);
    // A key that does not vary is shown as it is.
    assert.equal(group("module __main__['Registry'].entries['blob']", 'bytearray')?.count, 1);
    // What the search could not reach (the unreachable cycle) is a group of its own, said as such.
    const unreached = census.path_groups.find((g) => g.pattern === null && g.type === 'bytearray');
    assert.equal(unreached?.count, 1);
    assert.match(unreached.reason ?? '', /held by a reference cycle/);
    assert.ok(census.path_groups[0]!.bytes >= census.path_groups[census.path_groups.length - 1]!.bytes, 'largest first');

    // Every largest object asked for has a path or says why not.
    const texts = census.paths.results.map((p) => `${p.target ?? '?'}: ${p.path ?? p.reason ?? ''}`);
    assert.equal(texts.length, 10);
    for (const t of texts) assert.doesNotMatch(t, /: $/);
    const find = (list: string[], needle: string): string | undefined => list.find((t) => t.startsWith(needle));
    assert.equal(find(texts, 'list (len 100000)'), "list (len 100000): module __main__['HELD_BY_GLOBAL']");
    assert.match(find(texts, 'bytearray (len 3000000)') ?? '', /: module __main__\['closure'\]\.__closure__\[0\]\.cell_contents$/);
    assert.match(find(texts, 'bytearray (len 2000000)') ?? '', /: module __main__\['Registry'\]\.entries\['blob'\]$/);
    assert.match(find(texts, 'bytearray (len 4000000)') ?? '', /held by a reference cycle/);
    assert.match(find(texts, 'bytearray (len 50000)') ?? '', /: module __main__\['SESSIONS'\]\['session-\d+'\]\.payload$/);
    // Held by a library's global and deep in the program's data: the program's roots are searched first.
    assert.equal(find(texts, 'bytearray (len 1500000)'), "bytearray (len 1500000): module __main__['HOLDER']['deep']['deeper'][0]");
    // The earlier API (paths to given objects) answers from the same kind of search.
    const old = paths.results.map((p) => `${p.target ?? '?'}: ${p.path ?? p.reason ?? ''}`);
    assert.equal(find(old, 'list (len 100000)'), "list (len 100000): module __main__['HELD_BY_GLOBAL']");
    assert.match(find(old, 'bytearray (len 4000000)') ?? '', /held by a reference cycle/);
  });
}

test('a search that reaches its work bound says so, and so does every path it did not reach', () => {
  const py = testPythons()[0];
  assert.ok(py !== undefined);
  const { census } = knownHeap(py.python, 'small');
  assert.equal(census.partial, false, 'the census itself has no such bound');
  assert.equal(census.path_search.partial, true);
  assert.match(census.path_search.bound ?? '', /^its work bound \(5000 objects\)$/);
  // No "unreached" group: the search did not look everywhere, so it cannot say what no root holds.
  assert.equal(census.path_groups.filter((g) => g.pattern === null).length, 0);
  const missing = census.paths.results.filter((p) => p.path === null);
  assert.ok(missing.length > 0);
  for (const p of missing) assert.equal(p.reason, 'the search stopped at its work bound (5000 objects) before reaching it');
});

test('a search near the memory limit stops at its memory bound and says so', () => {
  const py = testPythons()[0];
  assert.ok(py !== undefined);
  const { census } = knownHeap(py.python, 'memory');
  assert.equal(census.partial, false, 'the census itself has no such bound');
  assert.equal(census.path_search.partial, true);
  assert.equal(census.path_search.bound, 'its memory bound (0 MiB left before the memory limit)');
  assert.equal(census.path_groups.filter((g) => g.pattern === null).length, 0);
  const missing = census.paths.results.filter((p) => p.path === null);
  assert.ok(missing.length > 0);
  for (const p of missing) assert.equal(p.reason, 'the search stopped at its memory bound (0 MiB left before the memory limit) before reaching it');
});
