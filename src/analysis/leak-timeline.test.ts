import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from '../../test/support/prng.js';
import type { SiteId, ThreadIndex } from '../model/ids.js';
import { LeakTimeline } from './leak-timeline.js';

type LeakEvent = { kind: 'alloc' | 'free'; site: SiteId; thread: ThreadIndex; index: number; bytes: number } | { kind: 'snap'; time: number };

/** Random allocations and frees on 3 threads, numbered per thread as the replay numbers them. */
function randomLeakEvents(seed: number, n: number, sites: number): LeakEvent[] {
  const rnd = prng(seed);
  const next = [0, 0, 0];
  const live: { site: SiteId; thread: ThreadIndex; index: number; bytes: number }[] = [];
  const out: LeakEvent[] = [];
  let time = 0;
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.1) out.push({ kind: 'snap', time: (time += 10) });
    else if (r < 0.6 || live.length === 0) {
      const thread = Math.floor(rnd() * 3) as ThreadIndex;
      const a = { site: Math.floor(rnd() * sites) as SiteId, thread, index: ++next[thread]!, bytes: 1 + Math.floor(rnd() * 100) };
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

test("the program's end closes a tick: a window can end there, and what memlens's release freed after it is freed in the last tick", () => {
  const t = new LeakTimeline();
  t.change(0 as SiteId, 1, 100, 1, 0 as ThreadIndex, 1);
  t.snapshot(2, 10);
  t.change(1 as SiteId, 2, 50, 1, 0 as ThreadIndex, 2);
  t.marker({ type: 'marker', stream: 0, seq: 3, timeNs: 15, kind: 9, label: 'released' });
  t.change(0 as SiteId, 3, -100, -1, 0 as ThreadIndex, 1); // the release
  t.marker({ type: 'marker', stream: 0, seq: 4, timeNs: 16, kind: 5, label: 'a user label: no tick' });
  const r = t.finish(20);
  assert.deepEqual([...r.tickEnd], [10, 15, 20]);
  const rows = Array.from({ length: r.site.length }, (_, i) => [r.site[i], r.start[i], r.end[i], r.bytes[i]]);
  // Site 0: made in tick 0, freed in tick 2 (after the end); site 1: made in tick 1, never freed.
  assert.deepEqual(rows.sort(), [
    [0, 0, 2, 100],
    [1, 1, 3, 50],
  ]);
});
