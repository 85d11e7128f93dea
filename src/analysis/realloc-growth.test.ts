// ReallocGrowth's entries: one per site with a growth, not a column as long as the site table.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Allocator } from '../capture/format.js';
import type { SiteId, ThreadIndex } from '../model/ids.js';
import { NO_ALLOCATOR, type ReplayContext } from '../model/replay-observer.js';
import { ReallocGrowth, REALLOCATORS } from './realloc-growth.js';

test('sites with a growth only, in ascending order, with the same sums as per-site columns', () => {
  const g = new ReallocGrowth();
  const sites = 200_000;
  const dense = { growths: new Float64Array(sites), copied: new Float64Array(sites), max: new Float64Array(sites) };
  let seq = 0;
  // Every site allocates; one in 50 (visited in a scrambled order, several times) grows by realloc.
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < sites; i++) {
      const site = (i * 7919 + round) % sites;
      const thread = (i % 3) as ThreadIndex;
      g.change(site as SiteId, seq++, 64, 1, thread, 0, Allocator.Malloc); // an allocation after no free: no growth
      if (site % 50 === 0) {
        const old = 100 + (i % 7);
        const bytes = old + 16 * (round + 1);
        g.change(site as SiteId, seq++, -old, -1, thread, 0, NO_ALLOCATOR);
        g.change(site as SiteId, seq++, bytes, 1, thread, 0, Allocator.Malloc); // no begin(): kept whatever the allocator
        dense.growths[site]! += 1;
        dense.copied[site]! += old;
        dense.max[site] = Math.max(dense.max[site]!, bytes);
      }
    }
  }
  const r = g.finish();
  const expected = [...dense.growths.keys()].filter((s) => dense.growths[s]! > 0);
  assert.deepEqual([...r.sites], expected);
  for (let i = 0; i < expected.length; i++) {
    const s = expected[i]!;
    assert.equal(r.growths[i], dense.growths[s]);
    assert.equal(r.copiedBytes[i], dense.copied[s]);
    assert.equal(r.maxBytes[i], dense.max[s]);
  }
  // 4000 entries: 36 bytes each at most twice over (doubling), not 24 bytes for each of 200 000 sites.
  assert.ok(g.byteLength <= 4096 * 2 * 36 + 1024 * 4, `${g.byteLength} bytes`);
});

test("with the replay's sites, only the growths at sites of a reallocating allocator are kept: the replay's allocator, not the site's keys read", () => {
  const g = new ReallocGrowth();
  // Site s's allocator is s % 16: every allocator, four of them reallocating. The replay passes it (HeapReplay's
  // test checks that it is the site's): reading the site's keys was a cache miss a growth.
  const read = (): never => assert.fail("the site's allocator was read");
  g.begin({ sites: { allocator: read, thread: read, pyStack: read } } as unknown as ReplayContext);
  const thread = 0 as ThreadIndex;
  let seq = 0;
  for (let site = 0; site < 64; site++) {
    g.change(site as SiteId, seq++, -100, -1, thread, 0, NO_ALLOCATOR);
    g.change(site as SiteId, seq++, 200, 1, thread, 0, site % 16); // a growth at every site
  }
  const r = g.finish();
  const want = Array.from({ length: 64 }, (_, s) => s).filter((s) => REALLOCATORS.has(s % 16));
  assert.deepEqual([...r.sites], want);
  assert.deepEqual(
    [...REALLOCATORS].sort((a, b) => a - b),
    [Allocator.Realloc, Allocator.PymallocRealloc, Allocator.Reallocarray, Allocator.Mremap],
  );
  assert.deepEqual([...r.growths], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
});

test('growths that repeat a sequence of sites, and others: the same sums as a map of sites', () => {
  const g = new ReallocGrowth();
  const want = new Map<number, [number, number, number]>();
  const thread = 1 as ThreadIndex;
  let seq = 0;
  const grow = (site: number, old: number, bytes: number): void => {
    g.change(site as SiteId, seq++, -old, -1, thread, 0, NO_ALLOCATOR);
    g.change(site as SiteId, seq++, bytes, 1, thread, 0, Allocator.Realloc);
    const w = want.get(site) ?? [0, 0, 0];
    want.set(site, [w[0] + 1, w[1] + old, Math.max(w[2], bytes)]);
  };
  // Chains of growth sites run again and again (the entry after the last one is the next site's), site 0 among them,
  // a chain cut short or run from its middle, and sites met in no order between them.
  const chains = [0, 1, 2].map((c) => Array.from({ length: 30 }, (_, i) => (c === 1 && i === 7 ? 0 : 1000 * (c + 1) + i * (c + 1))));
  let x = 12345;
  const next = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
  for (let r = 0; r < 400; r++) {
    const chain = chains[next(3)]!;
    const from = next(4) === 0 ? next(30) : 0;
    const to = next(4) === 0 ? from + next(30 - from) : 30;
    for (let i = from; i < to; i++) grow(chain[i]!, 16 + i, 32 + i + r);
    for (let k = next(3); k > 0; k--) grow(next(50_000), 8, 9 + next(100));
  }
  const r = g.finish();
  const sites = [...want.keys()].sort((a, b) => a - b);
  assert.deepEqual([...r.sites], sites);
  assert.deepEqual(
    sites.map((_, i) => [r.growths[i], r.copiedBytes[i], r.maxBytes[i]]),
    sites.map((s) => want.get(s)),
  );
});
