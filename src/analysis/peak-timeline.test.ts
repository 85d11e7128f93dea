import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from '../../test/support/prng.js';
import type { SiteId } from '../model/ids.js';
import { PeakTimeline, type PeakTimelineOptions, type PeakTimelineResult } from './peak-timeline.js';

type Event = { kind: 'change'; site: SiteId; seq: number; bytes: number; count: number } | { kind: 'snap'; seq: number; time: number };

const site = (n: number): SiteId => n as SiteId;

/** A random replay: allocations and frees of a few sites, snapshots now and then. */
function randomEvents(seed: number, n: number, sites: number): Event[] {
  const rnd = prng(seed);
  const live: { site: SiteId; bytes: number }[] = [];
  const out: Event[] = [];
  let seq = 0;
  let time = 0;
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.12) {
      time += 1 + Math.floor(rnd() * 10);
      out.push({ kind: 'snap', seq: seq + 1, time });
    } else if (r < 0.55 || live.length === 0) {
      const a = { site: site(Math.floor(rnd() * sites)), bytes: 1 + Math.floor(rnd() * 1000) };
      live.push(a);
      out.push({ kind: 'change', site: a.site, seq: ++seq, bytes: a.bytes, count: 1 });
    } else {
      const [a] = live.splice(Math.floor(rnd() * live.length), 1);
      out.push({ kind: 'change', site: a!.site, seq: ++seq, bytes: -a!.bytes, count: -1 });
    }
  }
  return out;
}

/** Per tick, the heap at its peak moment and every site's (bytes, count) then: by brute force. */
function oracle(events: readonly Event[], group: number, sites: number, endTime: number): { peak: number[]; live: number[][] } {
  const liveB = new Array<number>(sites).fill(0);
  const liveC = new Array<number>(sites).fill(0);
  let heap = 0;
  const peaks: number[] = [];
  const lives: number[][] = [];
  let best = 0;
  let bestLive: number[] = [];
  const open = () => {
    best = heap;
    bestLive = [...liveB, ...liveC];
  };
  open();
  let snaps = 0;
  let lastTime = 0;
  for (const e of events) {
    if (e.kind === 'snap') {
      lastTime = e.time;
      if (++snaps % group === 0) {
        peaks.push(best);
        lives.push(bestLive);
        open();
      }
      continue;
    }
    liveB[e.site]! += e.bytes;
    liveC[e.site]! += e.count;
    heap += e.bytes;
    if (heap > best) {
      best = heap;
      bestLive = [...liveB, ...liveC];
    }
  }
  const tail = events.length > 0 && events[events.length - 1]!.kind === 'change';
  if (snaps % group !== 0 || tail || endTime > lastTime || peaks.length === 0) {
    peaks.push(best);
    lives.push(bestLive);
  }
  return { peak: peaks, live: lives };
}

function liveAt(r: PeakTimelineResult, tick: number, sites: number): number[] {
  const out = new Array<number>(2 * sites).fill(0);
  for (let i = 0; i < r.site.length; i++) {
    if (r.start[i]! <= tick && tick < r.end[i]!) {
      out[r.site[i]!]! += r.bytes[i]!;
      out[sites + r.site[i]!]! += r.count[i]!;
    }
  }
  return out;
}

function run(events: readonly Event[], options: PeakTimelineOptions, endTime: number): PeakTimelineResult {
  const t = new PeakTimeline(options);
  for (const e of events) {
    if (e.kind === 'snap') t.snapshot(e.seq, e.time);
    else t.change(e.site, e.seq, e.bytes, e.count);
  }
  return t.finish(endTime);
}

for (const [name, options] of [
  ['one tick per snapshot', {}],
  ['coarsened by tick count', { maxTicks: 4 }],
  ['coarsened by run count', { maxRuns: 20 }],
] as const) {
  test(`live at every tick's peak equals brute force (${name})`, () => {
    for (let seed = 1; seed <= 30; seed++) {
      const sites = 1 + (seed % 7);
      const events = randomEvents(seed, 400, sites);
      const end = 10_000;
      const r = run(events, options, end);
      const want = oracle(events, r.snapshotsPerTick, sites, end);
      assert.deepEqual(Array.from(r.tickPeakHeap), want.peak, `seed ${seed}: tick peaks`);
      for (let k = 0; k < want.peak.length; k++) assert.deepEqual(liveAt(r, k, sites), want.live[k], `seed ${seed}: tick ${k}`);
      if (name !== 'one tick per snapshot') assert.ok(r.snapshotsPerTick > 1, `seed ${seed} was not coarsened`);
      assert.equal(r.tickEnd[r.tickEnd.length - 1], end);
    }
  });
}

test('the whole run peaks at the high-water mark, with its time interpolated inside the tick', () => {
  const t = new PeakTimeline();
  t.snapshot(1, 100); // nothing before it
  t.change(site(0), 1, 100, 1);
  t.change(site(1), 2, 50, 1);
  t.change(site(0), 3, -100, -1);
  t.change(site(1), 4, 10, 1);
  t.snapshot(5, 200);
  const r = t.finish(200);
  assert.deepEqual(Array.from(r.tickPeakHeap), [0, 150]);
  // The peak is the moment after event 2 (seq 2.5) of the tick that spans seqs 1 to 5: 37.5% of the way.
  assert.equal(r.tickPeakTime[1], 137.5);
  assert.deepEqual(liveAt(r, 1, 2), [100, 50, 1, 1]);
});

test("a site costs 61 bytes: the open run's tick in 4 bytes and the dirty flag in 1, not two Float64 columns", () => {
  // call_sites at 5 % of its size has 1.18 M sites (docs/benchmarks.md, round eighteen).
  const t = new PeakTimeline();
  const sites = 100_000;
  for (let s = 0; s < sites; s++) t.change(site(s), s + 1, 8, 1);
  t.snapshot(sites + 1, 10);
  const capacity = 131_072; // doubling from 4,096
  assert.ok(t.byteLength <= capacity * 61, `${t.byteLength} bytes`);
  const r = t.finish(20);
  assert.equal(r.tickPeakHeap[0], sites * 8);
});

test('a tick changing more sites than the list of changed sites first holds keeps every one, and those changed after its peak', () => {
  // The list (an Int32Array kept from tick to tick) starts at 4,096 sites; the sites changed after the
  // peak stay in it, at its front, for the next tick.
  const t = new PeakTimeline();
  const sites = 10_000;
  let seq = 0;
  for (let s = 0; s < sites; s++) t.change(site(s), ++seq, 8 + s, 1);
  for (let s = 1; s < sites; s += 2) t.change(site(s), ++seq, -(8 + s), -1); // after tick 0's peak
  t.snapshot(seq + 1, 10);
  const r = t.finish(20); // tick 1: no change, its peak its opening moment
  const want0 = [...Array.from({ length: sites }, (_, s) => 8 + s), ...Array.from({ length: sites }, () => 1)];
  const want1 = [...Array.from({ length: sites }, (_, s) => (s % 2 === 0 ? 8 + s : 0)), ...Array.from({ length: sites }, (_, s) => (s % 2 === 0 ? 1 : 0))];
  assert.deepEqual(liveAt(r, 0, sites), want0);
  assert.deepEqual(liveAt(r, 1, sites), want1);
});
