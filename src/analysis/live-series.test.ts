// Each site's live memory at the end of each tick: exact against a plain replay of the same changes, through
// coarsening, and from the checkpoints of an aggregated capture.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CheckpointEntry } from '../capture/records.js';
import type { SiteId } from '../model/ids.js';
import { prng } from '../../test/support/prng.js';
import type { ReplayContext } from '../model/replay-observer.js';
import { groupSeries, LiveSeries, type LiveSeriesResult, SiteMarks } from './live-series.js';
import { RecentGrowth } from './recent-growth.js';

/** The value of `site` at the end of tick k, read back from the runs. */
function valueAt(r: LiveSeriesResult, site: number, k: number): [number, number] {
  for (let i = 0; i < r.site.length; i++) if (r.site[i] === site && r.start[i]! <= k && k < r.end[i]!) return [r.bytes[i]!, r.count[i]!];
  return [0, 0];
}

test('runs hold each site at the end of every tick; the last tick is the end of the replay', () => {
  const s = new LiveSeries();
  s.change(0 as SiteId, 1, 100, 1);
  s.change(1 as SiteId, 2, 50, 1);
  s.snapshot(3, 10);
  s.change(0 as SiteId, 4, 100, 1);
  s.change(1 as SiteId, 5, -50, -1);
  s.snapshot(6, 20);
  s.snapshot(7, 30);
  s.change(0 as SiteId, 8, 100, 1); // after the last snapshot
  const r = s.finish();
  assert.deepEqual([...r.tickEnd], [10, 20, 30, 30]);
  assert.deepEqual(
    [0, 1, 2, 3].map((k) => valueAt(r, 0, k)),
    [
      [100, 1],
      [200, 2],
      [200, 2],
      [300, 3],
    ],
  );
  assert.deepEqual(
    [0, 1, 2, 3].map((k) => valueAt(r, 1, k)),
    [
      [50, 1],
      [0, 0],
      [0, 0],
      [0, 0],
    ],
  );
  const [g] = groupSeries(r, 1, (site) => (site <= 1 ? 0 : -1));
  assert.deepEqual([...g!.bytes], [150, 200, 200, 300]);
  assert.deepEqual([...g!.count], [2, 2, 2, 3]);
});

test('coarsened ticks keep the value at the end of each pair: the same as sampling a plain replay there', () => {
  const rand = prng(7);
  const maxTicks = 8;
  const s = new LiveSeries({ maxTicks });
  const live = [0, 0, 0, 0, 0];
  const atSnapshot: number[][] = [];
  const snaps = 53;
  for (let t = 1; t <= snaps; t++) {
    for (let e = 0; e < 5; e++) {
      const site = Math.floor(rand() * live.length);
      const d = live[site]! > 0 && rand() < 0.4 ? -Math.min(live[site]!, 10) : 10;
      live[site] = live[site]! + d;
      s.change(site as SiteId, t * 10 + e, d, Math.sign(d));
    }
    s.snapshot(t * 10 + 9, t * 1000);
    atSnapshot.push([...live]);
  }
  const r = s.finish();
  assert.ok(r.tickEnd.length <= maxTicks + 1, `${r.tickEnd.length} ticks`);
  // Each tick ends at a snapshot, groups of snapshotsPerTick; the values are those at that snapshot.
  r.tickEnd.forEach((end, k) => {
    const snap = end / 1000 - 1;
    for (let site = 0; site < live.length; site++) assert.equal(valueAt(r, site, k)[0], atSnapshot[snap]![site], `site ${site} tick ${k}`);
  });
  assert.equal(r.tickEnd[r.tickEnd.length - 1], snaps * 1000);
});

test('an aggregated capture: ticks at checkpoints, from their entries (the later entry of a location wins)', () => {
  const s = new LiveSeries({ maxTicks: 4 });
  const entry = (stack: number, liveBytes: number): CheckpointEntry => ({
    stream: 1,
    stack,
    nativeStack: 0,
    allocator: 0,
    totalCount: 0,
    totalBytes: 0,
    liveCount: liveBytes / 10,
    liveBytes,
    savedPeakCount: 0,
    savedPeakBytes: 0,
    updatedSeq: 0,
  });
  s.snapshot(1, 5); // snapshots of an aggregated capture carry no per-site values
  for (let k = 1; k <= 6; k++) s.checkpoint({ type: 'checkpoint', stream: 0, seq: k, timeNs: k * 1000, heap: 0, peakHeap: 0, peakSeq: 0, entries: [entry(1, k * 10), ...(k === 2 ? [entry(2, 70)] : [])] });
  s.resolveCheckpoints((e) => (e.stack - 1) as SiteId);
  const r = s.finish();
  // Six checkpoints in at most four ticks: pairs merged once.
  assert.deepEqual([...r.tickEnd], [2000, 4000, 6000]);
  assert.deepEqual(
    [0, 1, 2].map((k) => valueAt(r, 0, k)[0]),
    [20, 40, 60],
  );
  assert.deepEqual(
    [0, 1, 2].map((k) => valueAt(r, 1, k)[0]),
    [70, 70, 70],
  );
});

test("with the replay's live columns shared, a site costs its mark byte: the open run's tick and values only for a site whose run is not at 0", () => {
  // call_sites: 2.62 M sites, 571 held at the end; three columns of every site were 48 MiB (docs/benchmarks.md, round twenty-seven).
  const sites = 100_000;
  const held = 100;
  const s = new LiveSeries();
  const shared = { liveBytes: { array: new Float64Array(sites) }, liveCount: { array: new Float64Array(sites) } };
  s.begin({ sites: { columns: shared } } as unknown as ReplayContext);
  // Every site allocates in the first tick, all but `held` of them free it in that tick (as call_sites does).
  const change = (site: number, seq: number, bytes: number, count: number): void => {
    shared.liveBytes.array[site] = shared.liveBytes.array[site]! + bytes;
    shared.liveCount.array[site] = shared.liveCount.array[site]! + count;
    s.change(site as SiteId, seq, bytes, count);
  };
  for (let site = 0; site < sites; site++) {
    change(site, 2 * site + 1, 8, 1);
    if (site % (sites / held) !== 0) change(site, 2 * site + 2, -8, -1);
  }
  s.snapshot(2 * sites + 1, 10);
  // Then the held ones free theirs too, but one.
  for (let site = 0; site < sites; site += sites / held) if (site !== 1000) change(site, 2 * sites + 2 + site, -8, -1);
  s.snapshot(3 * sites + 2, 20);
  const capacity = 131_072; // the marks, doubling from 1,024
  assert.ok(s.byteLength <= capacity + 2 * 1024 * 8 + 4 * held * 28, `${s.byteLength} bytes`);
  const r = s.finish();
  // The runs closed at the second tick in the order the tick listed them, then the one still open.
  const closed = Array.from({ length: held }, (_, i) => i * (sites / held)).filter((site) => site !== 1000);
  assert.deepEqual([...r.site], [...closed, 1000]);
  assert.deepEqual(valueAt(r, 99_000, 0), [8, 1]);
  assert.deepEqual(valueAt(r, 99_000, 1), [0, 0]);
  assert.deepEqual(valueAt(r, 99_999, 0), [0, 0]);
  assert.deepEqual(valueAt(r, 1000, 1), [8, 1]);
});

test('the open runs keep values past 32 bits exactly', () => {
  // Through the series: a site whose live bytes pass 2^32 and come back.
  const s = new LiveSeries();
  s.change(0 as SiteId, 1, 2 ** 33, 1);
  s.snapshot(2, 1000);
  s.change(0 as SiteId, 3, -(2 ** 33) + 16, 0);
  s.snapshot(4, 2000);
  const r = s.finish();
  assert.deepEqual(
    [valueAt(r, 0, 0), valueAt(r, 0, 1)],
    [
      [2 ** 33, 1],
      [16, 1],
    ],
  );
});

test('LiveSeries and RecentGrowth on one SiteMarks: the runs and baselines each has with its own marks', () => {
  // forensics.ts gives both one byte per site (round twenty-three); their ticks close at different
  // snapshots (LiveSeries every 2^k once coarsened), so neither may touch the other's bits.
  const rand = prng(11);
  const sites = 200;
  const marks = new SiteMarks();
  const series = [new LiveSeries({ maxTicks: 8, marks }), new LiveSeries({ maxTicks: 8 })];
  const recent = [new RecentGrowth(3e8, marks), new RecentGrowth(3e8)];
  const bytes = new Float64Array(sites);
  const count = new Float64Array(sites);
  const context = { sites: { columns: { liveBytes: { array: bytes }, liveCount: { array: count } } } } as unknown as ReplayContext;
  const all = [...series, ...recent];
  for (const o of all) o.begin(context);
  const blocks: number[][] = Array.from({ length: sites }, () => []);
  const atSnapshot: Float64Array[] = [];
  let seq = 0;
  const change = (site: number, b: number, c: number): void => {
    bytes[site] = bytes[site]! + b;
    count[site] = count[site]! + c;
    seq++;
    for (const o of all) o.change(site as SiteId, seq, b, c);
  };
  for (let t = 1; t <= 100; t++) {
    for (let i = 0; i < 80; i++) {
      const site = Math.floor(rand() * sites);
      const held = blocks[site]!;
      if (held.length > 0 && rand() < 0.5) change(site, -held.pop()!, -1);
      else {
        held.push(8 + Math.floor(rand() * 50));
        change(site, held[held.length - 1]!, 1);
      }
    }
    // Sites emptied inside the tick: back at 0, the value of many open runs (left out at once).
    for (let site = 0; site < sites; site++) if (rand() < 0.25) while (blocks[site]!.length > 0) change(site, -blocks[site]!.pop()!, -1);
    for (const o of all) o.snapshot(seq, t * 1e7);
    atSnapshot.push(bytes.slice());
  }
  const [r, own] = series.map((s) => s.finish());
  assert.deepEqual(r, own);
  r!.tickEnd.forEach((end, k) => {
    const snap = end / 1e7 - 1;
    for (let site = 0; site < sites; site++) assert.equal(valueAt(r!, site, k)[0], atSnapshot[snap]![site], `site ${site} tick ${k}`);
  });
  const [g, gOwn] = recent.map((x) => x.finish());
  assert.deepEqual(g, gOwn);
  assert.equal(g!.fromNs, 70 * 1e7);
  for (let site = 0; site < sites; site++) assert.equal(g!.baseBytes.get(site), atSnapshot[69]![site], `site ${site}`);
});

test('the dense case: 200 k sites held at once cost about what columns of every site cost, with the runs of the same replay on spread sites (a table)', () => {
  // A recursive parser's tree: every node from a stack of its own, all alive. The table of held sites costs
  // 56 to 112 bytes a held site, the columns 13 a site (site-hash.ts; docs/benchmarks.md, round twenty-seven).
  const sites = 200_000;
  /** The same replay with site × SPREAD for site: far apart, the table is the smaller layout there. */
  const SPREAD = 16;
  const play = (spread: number): { result: LiveSeriesResult; most: number; atSnapshot: Float64Array[] } => {
    const s = new LiveSeries({ maxTicks: 8 });
    const bytes = new Float64Array(sites * spread);
    const count = new Float64Array(sites * spread);
    s.begin({ sites: { columns: { liveBytes: { array: bytes }, liveCount: { array: count } } } } as unknown as ReplayContext);
    const draw = prng(27); // the same draws in both plays
    let seq = 0;
    const change = (site: number, b: number, c: number): void => {
      const at = site * spread;
      bytes[at] = bytes[at]! + b;
      count[at] = count[at]! + c;
      s.change(at as SiteId, ++seq, b, c);
    };
    let most = 0;
    const atSnapshot: Float64Array[] = [];
    for (let t = 1; t <= 20; t++) {
      if (t <= 2) {
        // Half the sites allocate in each of the first two ticks: all 200 k are held at the end of the second.
        for (let site = (t - 1) * (sites / 2); site < (t * sites) / 2; site++) change(site, 8 + (site % 50), 1);
      } else {
        for (let i = 0; i < 30_000; i++) {
          const site = Math.floor(draw() * sites);
          const at = site * spread;
          if (draw() < 0.2) change(site, -bytes[at]!, -count[at]!);
          else if (site % 10_007 === 0)
            change(site, 2 ** 33, 1); // past 32 bits: kept exactly
          else change(site, 16, 1);
        }
      }
      s.snapshot(seq, t * 1e6);
      most = Math.max(most, s.byteLength);
      const now = new Float64Array(sites);
      for (let site = 0; site < sites; site++) now[site] = bytes[site * spread]!;
      atSnapshot.push(now);
    }
    return { result: s.finish(), most, atSnapshot };
  };
  const dense = play(1);
  const spread = play(SPREAD);
  // Columns of every site (main before round twenty-seven): three of 4 bytes a site and the mark byte, for
  // 2^18 sites (doubling from 1,024), and the unused own live columns' first 1,024 sites. The table was 14.7 MB.
  const columns = 2 ** 18 * 13 + 2 * 1024 * 8;
  assert.ok(dense.most <= 1.1 * columns, `${dense.most} bytes at most, columns ${columns}`);
  assert.ok(spread.most > 2 * columns, `the spread sites' table: ${spread.most} bytes`);
  // The same runs, site for site.
  const r = dense.result;
  const q = spread.result;
  assert.deepEqual(
    [...q.site].map((site) => site / SPREAD),
    [...r.site],
  );
  assert.deepEqual({ ...q, site: null }, { ...r, site: null });
  // And each tick's values are the replay's at its snapshot.
  const ticks = r.tickEnd.length;
  const values = Array.from({ length: ticks }, () => new Float64Array(sites));
  for (let i = 0; i < r.site.length; i++) for (let k = r.start[i]!; k < r.end[i]!; k++) values[k]![r.site[i]!] = r.bytes[i]!;
  r.tickEnd.forEach((end, k) => assert.deepEqual(values[k], dense.atSnapshot[end / 1e6 - 1], `tick ${k}`));
  assert.ok(r.bytes.some((b) => b > 2 ** 32));
});
