// The census and reference paths of agent/python/memlens_census.py, run inside real Pythons on a known heap.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT as repoRoot, testPythons } from './support/pythons.js';


interface Census {
  pause_ms: number;
  partial: boolean;
  types: { type: string; count: number; bytes: number }[];
  largest_objects: { type: string; bytes: number; length: number; id: number }[];
}
interface Paths {
  results: { target?: string; path: string | null; reason?: string }[];
}

for (const py of testPythons()) {
  test(`census counts a million objects of a known class, with paths, on Python ${py.version}`, () => {
    const r = spawnSync(py.python, [join(repoRoot, 'test/python/census_known_heap.py'), join(repoRoot, 'agent/python')], { encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, r.stderr);
    const { census, paths } = JSON.parse(r.stdout) as { census: Census; paths: Paths };
    const known = census.types.find((t) => t.type === '__main__.Known');
    assert.ok(known !== undefined);
    assert.equal(known.count, 1_000_000);
    assert.ok(known.bytes >= 1_000_000 * 16);
    assert.equal(census.partial, false);
    assert.ok(census.pause_ms > 0);
    const texts = paths.results.map((p) => `${p.target ?? '?'}: ${p.path ?? p.reason ?? ''}`);
    const find = (needle: string): string | undefined => texts.find((t) => t.startsWith(needle));
    assert.equal(find('list (len 1000000)'), "list (len 1000000): module __main__['HELD_BY_GLOBAL']");
    assert.match(find('bytearray (len 3000000)') ?? '', /module __main__\['closure'\]\.__closure__\[0\]\.cell_contents$/);
    assert.match(find('bytearray (len 2000000)') ?? '', /module __main__\['Registry'\].*\['entries'\]\['blob'\]$/);
    assert.match(find('bytearray (len 4000000)') ?? '', /held by a reference cycle/);
  });
}
