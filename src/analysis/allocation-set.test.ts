// A set of the model's sites: columns, sorted, and objects made only when read.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomStream, replay } from '../../test/support/random-stream.js';
import { ModelBuilder } from '../model/builder.js';
import { DEFAULT_FRAME_FILTER } from '../model/frames.js';
import type { CaptureModel } from '../model/model.js';
import { type AllocationSet, allAllocations, peakAmounts } from './allocation-set.js';
import { highWaterMark } from './high-water-mark.js';
import { leaks } from './leaks.js';
import { stacksOf } from './stacks.js';
import { temporaryAllocations } from './temporary.js';

function model(seed: number): CaptureModel {
  const stream = randomStream(seed, { events: 3000, mmapShare: 0.1 });
  const builder = new ModelBuilder({ lineResolver: (_code, instr) => instr, temporaryThreshold: 2 });
  replay(stream, builder);
  return builder.finish();
}

/** The stacks as numbers, comparable with deepEqual (the stacks' objects hold their trie). */
function stackFigures(m: CaptureModel, set: AllocationSet): unknown[] {
  return stacksOf(m, set, { filter: DEFAULT_FRAME_FILTER }).map((s) => [s.frames, s.bytes, s.count, s.allocator, s.allocatorBytes]);
}

for (const seed of [1, 2, 3]) {
  test(`columns and objects name the same sites in the same order, and stacksOf reads the columns (seed ${seed})`, () => {
    const m = model(seed);
    for (const set of [allAllocations(m), leaks(m), highWaterMark(m), temporaryAllocations(m)]) {
      const c = set.columns!;
      // The set as made: its objects not made yet (the producers add their fields without a spread, which reads them).
      assert.equal(typeof Object.getOwnPropertyDescriptor(set, 'sites')?.get, 'function', set.kind);
      const fromColumns = stackFigures(m, { ...set, columns: c, sites: [] });
      const sites = set.sites;
      assert.ok(sites.length > 0, set.kind);
      assert.equal(set.sites, sites, 'made once');
      assert.deepEqual(
        sites.map((s) => [s.site, s.bytes, s.count]),
        Array.from(c.site, (site, i) => [site, c.bytes[i], c.count[i]]),
      );
      // Largest first, then by count, then by site.
      for (let i = 1; i < sites.length; i++) {
        const a = sites[i - 1]!;
        const b = sites[i]!;
        assert.ok(a.bytes > b.bytes || (a.bytes === b.bytes && (a.count > b.count || (a.count === b.count && a.site < b.site))), `${set.kind} order at ${i}`);
      }
      assert.equal(
        set.totalBytes,
        sites.reduce((n, s) => n + s.bytes, 0),
      );
      assert.equal(
        set.totalCount,
        sites.reduce((n, s) => n + s.count, 0),
      );
      // stacksOf gives the same stacks from the columns (the objects left empty above) as from the objects alone.
      assert.deepEqual(fromColumns, stackFigures(m, { kind: set.kind, totalBytes: set.totalBytes, totalCount: set.totalCount, sites }));
    }
  });
}

/** A model whose values at the peak are `site`, `bytes`, `count` (peakAmounts() reads nonzero() alone). */
function peakModel(site: number[], bytes: number[], count: number[]): CaptureModel {
  const n = site.length;
  const peak = { nonzero: () => ({ site: Int32Array.from(site), bytes: Float64Array.from(bytes), count: Float64Array.from(count), length: n }) };
  return { sites: { size: n, peak } } as unknown as CaptureModel;
}

/** What peakAmounts() must give: the entries sorted as a copy (largest bytes, then count, then site order). */
function sortedCopy(site: number[], bytes: number[], count: number[]): number[][] {
  const rows = site.map((s, i) => [s, bytes[i]!, count[i]!, i] as const);
  rows.sort((a, b) => b[1] - a[1] || b[2] - a[2] || a[3] - b[3]);
  return rows.map((r) => [r[0], r[1], r[2]]);
}

test("peakAmounts() puts nonzero()'s arrays in sorted order in place: fixed points, short cycles, one long cycle", () => {
  // A permutation made of cycles: entry perm[i] goes to place i. Fixed points, 2- and 3-cycles, one cycle of 1000.
  const perm: number[] = [];
  const cycle = (members: number[]): void => {
    for (let j = 0; j < members.length; j++) perm[members[j]!] = members[(j + 1) % members.length]!;
  };
  let next = 0;
  const take = (k: number): number[] => Array.from({ length: k }, () => next++);
  for (let r = 0; r < 40; r++) {
    cycle(take(1));
    cycle(take(2));
    cycle(take(3).reverse());
  }
  // The long cycle's members interleaved with fixed points (every other index).
  const long: number[] = [];
  for (let k = 0; k < 1000; k++) {
    long.push(next++);
    cycle(take(1));
  }
  for (let k = 0; k < long.length; k++) long.push(long.splice(Math.floor((k * 7919) % long.length), 1)[0]!);
  cycle(long);
  const n = next;
  // Values that sort into `perm`: entry perm[i] the i-th largest (a tie on bytes broken by count at every 5th).
  const bytes = new Array<number>(n);
  const count = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    bytes[perm[i]!] = 10 * (n - i - (i % 5 === 1 ? 1 : 0));
    count[perm[i]!] = i % 5 === 1 ? 3 : 2;
  }
  const site = Array.from({ length: n }, (_, i) => 7 * i + 3);
  const set = peakAmounts(peakModel(site, bytes, count));
  const c = set.columns!;
  const expected = sortedCopy(site, bytes, count);
  assert.deepEqual(
    Array.from(c.site, (s, i) => [s, c.bytes[i], c.count[i]]),
    expected,
  );
  assert.deepEqual(
    expected.map((r) => r[0]),
    Array.from({ length: n }, (_, i) => site[perm[i]!]),
  );
  assert.equal(
    set.totalBytes,
    bytes.reduce((a, b) => a + b, 0),
  );
  // Random values with many ties (bytes and counts from small ranges): the same as a sort of a copy.
  let x = 12345;
  const rand = (k: number): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) % k;
  const m = 5000;
  const rs = Array.from({ length: m }, (_, i) => i * 2 + 1);
  const rb = Array.from({ length: m }, () => 8 * (1 + rand(30)));
  const rc = Array.from({ length: m }, () => 1 + rand(3));
  const r = peakAmounts(peakModel(rs, rb, rc)).columns!;
  assert.deepEqual(
    Array.from(r.site, (s, i) => [s, r.bytes[i], r.count[i]]),
    sortedCopy(rs, rb, rc),
  );
});
