import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from '../../test/support/prng.js';
import { LeakTimeline, PeakTimeline, type PeakTimelineOptions, type PeakTimelineResult } from './temporal.js';

type Event = { kind: 'change'; site: number; seq: number; bytes: number; count: number } | { kind: 'snap'; seq: number; time: number };

/** A random replay: allocations and frees of a few sites, snapshots now and then. */
function randomEvents(seed: number, n: number, sites: number): Event[] {
  const rnd = prng(seed);
  const live: { site: number; bytes: number }[] = [];
  const out: Event[] = [];
  let seq = 0;
  let time = 0;
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.12) {
      time += 1 + Math.floor(rnd() * 10);
      out.push({ kind: 'snap', seq: seq + 1, time });
    } else if (r < 0.55 || live.length === 0) {
      const a = { site: Math.floor(rnd() * sites), bytes: 1 + Math.floor(rnd() * 1000) };
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
  t.change(0, 1, 100, 1);
  t.change(1, 2, 50, 1);
  t.change(0, 3, -100, -1);
  t.change(1, 4, 10, 1);
  t.snapshot(5, 200);
  const r = t.finish(200);
  assert.deepEqual(Array.from(r.tickPeakHeap), [0, 150]);
  // The peak is the moment after event 2 (seq 2.5) of the tick that spans seqs 1 to 5: 37.5% of the way.
  assert.equal(r.tickPeakTime[1], 137.5);
  assert.deepEqual(liveAt(r, 1, 2), [100, 50, 1, 1]);
});

type LeakEvent = { kind: 'alloc' | 'free'; site: number; thread: number; index: number; bytes: number } | { kind: 'snap'; time: number };

/** Random allocations and frees on 3 threads, numbered per thread as the replay numbers them. */
function randomLeakEvents(seed: number, n: number, sites: number): LeakEvent[] {
  const rnd = prng(seed);
  const next = [0, 0, 0];
  const live: { site: number; thread: number; index: number; bytes: number }[] = [];
  const out: LeakEvent[] = [];
  let time = 0;
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.1) out.push({ kind: 'snap', time: (time += 10) });
    else if (r < 0.6 || live.length === 0) {
      const thread = Math.floor(rnd() * 3);
      const a = { site: Math.floor(rnd() * sites), thread, index: ++next[thread]!, bytes: 1 + Math.floor(rnd() * 100) };
      live.push(a);
      out.push({ kind: 'alloc', ...a });
    } else {
      const [a] = live.splice(Math.floor(rnd() * live.length), 1);
      out.push({ kind: 'free', ...a! });
    }
  }
  return out;
}

test('leaks in every window equal brute force, coarsened or not', () => {
  for (const options of [{}, { maxTicks: 4 }, { maxEntries: 30 }]) {
    for (let seed = 1; seed <= 20; seed++) {
      const sites = 1 + (seed % 5);
      const events = randomLeakEvents(seed, 300, sites);
      const t = new LeakTimeline(options);
      for (const e of events) {
        if (e.kind === 'snap') t.snapshot(0, e.time);
        else if (e.kind === 'alloc') t.change(e.site, 0, e.bytes, 1, e.thread, e.index);
        else t.change(e.site, 0, -e.bytes, -1, e.thread, e.index);
      }
      const r = t.finish(100_000);
      const g = r.snapshotsPerTick;
      // The oracle: each block's allocation and free tick, ticks being groups of g snapshot intervals.
      const made = new Map<string, { site: number; bytes: number; a: number; f: number }>();
      let snaps = 0;
      for (const e of events) {
        if (e.kind === 'snap') snaps++;
        else if (e.kind === 'alloc') made.set(`${e.thread}:${e.index}`, { site: e.site, bytes: e.bytes, a: Math.floor(snaps / g), f: Infinity });
        else made.get(`${e.thread}:${e.index}`)!.f = Math.floor(snaps / g);
      }
      const n = r.tickEnd.length;
      for (let k0 = 0; k0 < n; k0++) {
        for (let k1 = k0; k1 < n; k1++) {
          const want = new Array<number>(sites).fill(0);
          for (const m of made.values()) if (m.a >= k0 && m.a <= k1 && m.f > k1) want[m.site]! += m.bytes;
          const got = new Array<number>(sites).fill(0);
          for (let i = 0; i < r.site.length; i++) if (r.start[i]! >= k0 && r.start[i]! <= k1 && r.end[i]! > k1) got[r.site[i]!]! += r.bytes[i]!;
          assert.deepEqual(got, want, `seed ${seed}, ${JSON.stringify(options)}, window ${k0}–${k1}`);
        }
      }
      if (Object.keys(options).length > 0) assert.ok(g > 1, `seed ${seed} was not coarsened`);
    }
  }
});
