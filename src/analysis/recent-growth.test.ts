// RecentGrowth's memory per site when the replay's live columns are shared with it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SiteId } from '../model/ids.js';
import type { ReplayContext } from '../model/replay-observer.js';
import { RecentGrowth } from './recent-growth.js';
import { allocateInSharedColumns } from '../../test/support/shared-live-columns.js';
import { prng } from '../../test/support/prng.js';

test("with the replay's live columns shared, no own live columns grow: a site costs its mark byte and its entries in the tables of the baseline and the saved values", () => {
  // call_sites at 5 % of its size has 1.18 M sites (docs/benchmarks.md, round eighteen).
  const sites = 100_000;
  const g = new RecentGrowth(5e9);
  allocateInSharedColumns(g, sites, 8);
  g.snapshot(sites + 1, 1e9);
  g.snapshot(sites + 2, 7e9); // folds the first tick into the baseline
  const capacity = 131_072; // the marks, doubling from 1,024
  // Every site is in the baseline (bytes and count) and saved once (its change's number; its values then, 0,
  // take no entry): three tables of 2^18 slots (at most half full), 12 bytes a slot (site-hash.ts).
  assert.ok(g.byteLength <= capacity + 2 * 1024 * 8 + 3 * 2 ** 18 * 12 + 2 * 16 * 12, `${g.byteLength} bytes`);
  const r = g.finish();
  assert.equal(r.baseBytes.get(99_999), 8);
});

test('the values saved for the window before the last change are kept only through a quiet end', () => {
  // 20 bytes a site (docs/benchmarks.md, round nineteen): a program busy to its end never needs them.
  const sites = 50_000;
  const busy = new RecentGrowth(5e9);
  for (let t = 1; t <= 20; t++) {
    for (let site = 0; site < sites; site += 1) busy.change(site as SiteId, t, 8, 1);
    busy.snapshot(t * sites, t * 1e9); // a change before every snapshot: each fold's saves would be dropped
  }
  const capacity = 65_536; // doubling from 1,024
  // Its own live columns and marks (17 bytes a site) and the baseline (two tables of 2^17 slots, 12 bytes a
  // slot): the three tables of saved values stay empty (16 slots each).
  assert.ok(busy.byteLength <= capacity * (2 * 8 + 1) + 2 * 2 ** 17 * 12 + 3 * 16 * 12, `${busy.byteLength} bytes`);
  assert.equal(busy.finish().beforeLastChange?.baseBytes.get(0), 15 * 8);

  // Growth until 10 s, then nothing but snapshots to 30 s: the window before the last change (ending at the
  // snapshot after it, 10 s) keeps its baseline (5 s) while the folds move the other one to the end.
  const quiet = new RecentGrowth(5e9);
  for (let t = 1; t <= 30; t++) {
    if (t <= 10) for (let site = 0; site < 1000; site++) quiet.change(site as SiteId, t, 8, 1);
    quiet.snapshot(t * 1000, t * 1e9);
  }
  const r = quiet.finish();
  assert.equal(r.lastChangeNs, 10e9);
  assert.equal(r.baseBytes.get(999), 10 * 8);
  assert.equal(r.beforeLastChange?.fromNs, 5e9);
  assert.equal(r.beforeLastChange?.baseBytes.get(999), 5 * 8);
  assert.ok(quiet.byteLength > 1000 * 20, 'saved columns made');
});

test('the baseline and the saved values of a few sites among many are tables of those sites, not columns or pages of every site', () => {
  // call_sites: 8.7 k of 2.6 M sites in the baseline and 6.2 k saved, held as columns of 4 M sites (155 MB of
  // arrays to the verdict's end; docs/benchmarks.md, round twenty-six).
  const spread = 4096;
  const few = 64;
  const shared = { liveBytes: { array: new Float64Array(few * spread) }, liveCount: { array: new Float64Array(few * spread) } };
  const g = new RecentGrowth(5e9);
  g.begin({ sites: { columns: shared } } as unknown as ReplayContext);
  for (let t = 1; t <= 30; t++) {
    if (t <= 10) {
      for (let k = 0; k < few; k++) {
        const site = k * spread;
        shared.liveBytes.array[site] = shared.liveBytes.array[site]! + 8;
        shared.liveCount.array[site] = shared.liveCount.array[site]! + 1;
        g.change(site as SiteId, t, 8, 1);
      }
    }
    g.snapshot(t * 1000, t * 1e9); // quiet from 11 s: the folds save what they overwrite
  }
  const marks = 262_144; // one byte a site, doubling from 1,024 past the last site
  // Five values a site listed (baseline, saved and its stamp), each in a table of at most 4 slots a site of
  // 12 bytes, and the unused own live columns' first 1,024 sites; columns of every site were 36 bytes a site
  // (9.4 MB here), pages of 512 sites 4 KiB a site (1.3 MB).
  assert.ok(g.byteLength <= marks + 5 * few * 4 * 12 + 2 * 1024 * 8, `${g.byteLength} bytes`);
  const r = g.finish();
  assert.equal(r.lastChangeNs, 10e9);
  assert.equal(r.baseBytes.get((few - 1) * spread), 10 * 8);
  assert.equal(r.baseBytes.get(1), 0);
  assert.equal(r.beforeLastChange?.baseBytes.get((few - 1) * spread), 5 * 8);
  assert.equal(r.beforeLastChange?.baseCount.get(0), 5);
});

test('folded ticks are let go as they are folded, not 1024 of them later', () => {
  // A window of 5 s holds at most 101 ticks of 50 ms; the array of ticks was sliced only 1024 folds later.
  const sites = 1000;
  const g = new RecentGrowth(5e9);
  for (let t = 1; t <= 600; t++) {
    for (let site = 0; site < sites; site++) g.change(site as SiteId, t, 8, 1);
    g.snapshot(t * sites, t * 50e6);
  }
  const perTick = sites * 20;
  assert.ok(g.ticksByteLength <= 102 * perTick, `${g.ticksByteLength} bytes held in ticks`);
  assert.equal(g.finish().baseBytes.get(0), (600 - 100) * 8);
});

/** The replay's live columns, shared as HeapReplay shares them: a change goes in before the observers hear of it. */
class SharedReplay {
  readonly bytes: Float64Array;
  readonly count: Float64Array;
  constructor(
    sites: number,
    private readonly observers: readonly { begin(c: ReplayContext): void; change(site: SiteId, seq: number, bytes: number, count: number): void }[],
  ) {
    this.bytes = new Float64Array(sites);
    this.count = new Float64Array(sites);
    const context = { sites: { columns: { liveBytes: { array: this.bytes }, liveCount: { array: this.count } } } } as unknown as ReplayContext;
    for (const o of observers) o.begin(context);
  }
  change(site: number, seq: number, bytes: number, count: number): void {
    this.bytes[site] = this.bytes[site]! + bytes;
    this.count[site] = this.count[site]! + count;
    for (const o of this.observers) o.change(site as SiteId, seq, bytes, count);
  }
}

test('a tick leaves out the sites at 0 that were at 0 when last listed: the baselines of a plain replay', () => {
  // Round twenty-three: on call_sites 98.7 % of a tick's sites were allocated and freed inside it.
  for (const seed of [1, 2, 3]) {
    const rand = prng(seed);
    const sites = 300;
    const lastNs = 1e9;
    const shared = new RecentGrowth(lastNs);
    const own = new RecentGrowth(lastNs);
    const replay = new SharedReplay(sites, [shared]);
    const blocks: number[][] = Array.from({ length: sites }, () => []);
    const atTick: { timeNs: number; bytes: Float64Array; count: Float64Array }[] = [];
    let seq = 0;
    const change = (site: number, bytes: number, count: number): void => {
      seq++;
      replay.change(site, seq, bytes, count);
      own.change(site as SiteId, seq, bytes, count);
    };
    for (let t = 1; t <= 250; t++) {
      for (let i = 0; i < 120; i++) {
        const site = Math.floor(rand() * sites);
        const held = blocks[site]!;
        if (held.length > 0 && rand() < 0.55) change(site, -held.pop()!, -1);
        else {
          const size = 1 + Math.floor(rand() * 100);
          held.push(size);
          change(site, size, 1);
        }
      }
      // Some sites freed whole before the tick ends: back at 0, as many were when last listed.
      for (let site = 0; site < sites; site++) if (rand() < 0.3) while (blocks[site]!.length > 0) change(site, -blocks[site]!.pop()!, -1);
      const timeNs = t * 1e7; // every snapshot a tick (lastNs / TICKS_PER_WINDOW apart)
      shared.snapshot(seq, timeNs);
      own.snapshot(seq, timeNs);
      atTick.push({ timeNs, bytes: replay.bytes.slice(), count: replay.count.slice() });
    }
    const endNs = atTick[atTick.length - 1]!.timeNs;
    const base = atTick.filter((k) => k.timeNs <= endNs - lastNs).pop()!;
    for (const r of [shared.finish(), own.finish()]) {
      assert.equal(r.fromNs, base.timeNs);
      for (let site = 0; site < sites; site++) {
        assert.equal(r.baseBytes.get(site), base.bytes[site], `seed ${seed}, site ${site}`);
        assert.equal(r.baseCount.get(site), base.count[site], `seed ${seed}, site ${site}`);
      }
    }
  }
});

test('blocks allocated and freed inside their tick take no bytes in the ticks', () => {
  const sites = 10_000;
  const g = new RecentGrowth(5e9);
  const replay = new SharedReplay(sites, [g]);
  let seq = 0;
  for (let t = 1; t <= 40; t++) {
    for (let site = 0; site < sites; site++) replay.change(site, ++seq, 64, 1);
    for (let site = 0; site < sites; site++) replay.change(site, ++seq, -64, -1);
    g.snapshot(seq, t * 50e6);
  }
  // Back at 0 by an allocation (a free seen first): left out when the tick closes.
  for (let site = 0; site < sites; site++) replay.change(site, ++seq, -64, -1);
  for (let site = 0; site < sites; site++) replay.change(site, ++seq, 64, 1);
  g.snapshot(seq, 40.5 * 50e6);
  assert.equal(g.ticksByteLength, 0);
  // One site left holding a block: listed once, at the tick it changed.
  replay.change(7, ++seq, 64, 1);
  g.snapshot(seq, 42 * 50e6);
  assert.ok(g.ticksByteLength > 0 && g.ticksByteLength < 8, `${g.ticksByteLength} bytes`);
});

test('the dense case: 200 k sites in the baseline and saved cost about what pages of every site cost, with the baselines of a plain replay', () => {
  // A recursive parser's tree (every node from a stack of its own, all alive): a table of 12-byte slots, two
  // to four a site, for each of the five values (baseline bytes and count, saved bytes, count and stamp),
  // where 512-site pages of Float64 were 8 bytes a site (site-hash.ts; docs/benchmarks.md, round twenty-seven).
  const sites = 200_000;
  const bytes = new Float64Array(sites);
  const count = new Float64Array(sites);
  const g = new RecentGrowth(5e9);
  g.begin({ sites: { columns: { liveBytes: { array: bytes }, liveCount: { array: count } } } } as unknown as ReplayContext);
  const atSnapshot: Float64Array[] = [];
  let most = 0;
  for (let t = 1; t <= 20; t++) {
    if (t <= 10) {
      for (let site = 0; site < sites; site++) {
        // A third of the sites go back to 0 in each tick (a different third each time), the others grow.
        const b = (site + t) % 3 === 0 ? -bytes[site]! : 8 * t;
        const c = (site + t) % 3 === 0 ? -count[site]! : 1;
        bytes[site] = bytes[site]! + b;
        count[site] = count[site]! + c;
        g.change(site as SiteId, t, b, c);
      }
    }
    g.snapshot(t * sites, t * 1e9); // quiet from 11 s: the folds save what they overwrite
    most = Math.max(most, g.byteLength);
    atSnapshot.push(bytes.slice());
  }
  const pages = 2 ** 18 * (1 + 5 * 8) + 2 * 1024 * 8; // the marks, five values a site, the unused own columns' first 1,024 sites
  assert.ok(most <= 1.1 * pages, `${most} bytes at most, pages ${pages}`);
  const r = g.finish();
  assert.deepEqual([r.fromNs, r.lastChangeNs, r.beforeLastChange?.fromNs], [15e9, 10e9, 5e9]);
  const baseAt = (from: number): Float64Array => atSnapshot[from / 1e9 - 1]!;
  for (let site = 0; site < sites; site++) {
    assert.equal(r.baseBytes.get(site), baseAt(15e9)[site], `site ${site}`);
    assert.equal(r.beforeLastChange!.baseBytes.get(site), baseAt(5e9)[site], `site ${site} before the last change`);
  }
  assert.equal(r.baseCount.get(1), 2); // back to 0 at 8 s, then 9 s and 10 s
});

test("chains of calls freed in the order they allocated leave no entries in the tick's list, and the baselines of a plain replay", () => {
  // call_sites: a chain allocates a block at each of its sites, then frees them first to last; one chain in five
  // keeps its blocks to the next tick, and some chains run twice in a tick.
  const rand = prng(7);
  const sites = 4000;
  const lastNs = 1e9;
  const shared = new RecentGrowth(lastNs);
  const own = new RecentGrowth(lastNs);
  const replay = new SharedReplay(sites, [shared]);
  const atTick: { timeNs: number; bytes: Float64Array; count: Float64Array }[] = [];
  let seq = 0;
  const change = (site: number, bytes: number, count: number): void => {
    seq++;
    replay.change(site, seq, bytes, count);
    own.change(site as SiteId, seq, bytes, count);
  };
  let kept: number[] = [];
  let most = 0;
  for (let t = 1; t <= 150; t++) {
    for (const site of kept) change(site, -32, -1);
    kept = [];
    for (let c = 0; c < 40; c++) {
      const from = Math.floor(rand() * (sites - 40));
      const chain = Array.from({ length: 20 + Math.floor(rand() * 20) }, (_, i) => from + i);
      for (const site of chain) change(site, 32, 1);
      if (rand() < 0.2) kept.push(...chain);
      else for (const site of chain) change(site, -32, -1);
      most = Math.max(most, shared.listed);
    }
    const timeNs = t * 1e7;
    shared.snapshot(seq, timeNs);
    own.snapshot(seq, timeNs);
    atTick.push({ timeNs, bytes: replay.bytes.slice(), count: replay.count.slice() });
  }
  // The list holds the chains kept (and those freed in this tick after a tick kept them), not every allocation.
  assert.ok(most <= 40 * 40 * 0.6, `${most} entries`);
  const endNs = atTick[atTick.length - 1]!.timeNs;
  const base = atTick.filter((k) => k.timeNs <= endNs - lastNs).pop()!;
  for (const r of [shared.finish(), own.finish()]) {
    assert.equal(r.fromNs, base.timeNs);
    for (let site = 0; site < sites; site++) {
      assert.equal(r.baseBytes.get(site), base.bytes[site], `site ${site}`);
      assert.equal(r.baseCount.get(site), base.count[site], `site ${site}`);
    }
  }
});
