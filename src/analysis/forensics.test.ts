// The forensics observer's gate (model/replay-observer.ts): the replay leaves out change() calls, and the facts
// are the same as when every change is passed on.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Allocator, MARKER_KINDS, OPTION_GC_START } from '../capture/format.js';
import { makeHeader } from '../capture/header.js';
import { HeapReplay } from '../model/heap-replay.js';
import type { NativeNodeId1, PyNodeId1, SiteId, ThreadIndex } from '../model/ids.js';
import type { ReplayContext, ReplayObserver } from '../model/replay-observer.js';
import { SiteTable } from '../model/site-table.js';
import { ForensicsObserver, type ForensicFacts } from './forensics.js';

/** A small random number generator (the same traces at every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/**
 * A random trace through a replay whose observer is the forensics observer itself (`gated`: the replay reads its
 * gate) or a wrapper of it without the gate (every change passed on). Returns the facts and the change() calls.
 */
function run(seed: number, gated: boolean, noRecentGrowth: boolean): { facts: ForensicFacts; calls: number } {
  const random = rng(seed);
  // A short window (a tick at every snapshot) or a long one (ticks at one snapshot in a few, 1/100 of it apart).
  const forensics = new ForensicsObserver({ lastNs: seed % 2 === 0 ? 40 : 1000, noRecentGrowth });
  let calls = 0;
  const change = forensics.change.bind(forensics);
  forensics.change = (...a) => {
    calls++;
    change(...a);
  };
  const observer: ReplayObserver = gated
    ? forensics
    : {
        change: (...a) => forensics.change(...a),
        snapshot: (seq, timeNs) => forensics.snapshot(seq, timeNs),
        gc: (r) => forensics.gc(r),
        gcStart: (seq) => forensics.gcStart(seq),
        marker: (r) => forensics.marker(r),
      };
  const sites = new SiteTable();
  const replay = new HeapReplay(sites, { observer, temporaryThreshold: undefined, window: undefined });
  // Stacks as chains: node n's caller is n - 1, down to 1 (a large allocation's frames, watched until they return).
  const context: ReplayContext = { sites, pyParent: (n) => (n > 1 ? n - 1 : 0) as PyNodeId1, pyCode: (n) => n };
  forensics.begin(context);
  forensics.header(makeHeader({ options: OPTION_GC_START }));
  const siteIds: SiteId[] = [];
  for (let i = 0; i < 12; i++) {
    // Two threads; a third of the sites by realloc (ReallocGrowth keeps their growths).
    siteIds.push(sites.intern((1 + (i % 6)) as PyNodeId1, i as NativeNodeId1, (i & 1) as ThreadIndex, i % 3 === 0 ? Allocator.Realloc : Allocator.Malloc));
  }
  const live: number[] = [];
  const sizeOf = new Map<number, number>();
  let seq = 0;
  let timeNs = 0;
  let nextAddress = 0x1000;
  let inGc = -1;
  const end = 3000 + Math.floor(random() * 2000);
  const programEnd = random() < 0.5 ? Math.floor(end * 0.9) : -1;
  // One seed in three: no collection and a snapshot every few events (frees left out, snapshots with no change
  // passed on since the last: RecentGrowth's "changed" must still be seen).
  const quiet = seed % 3 === 0;
  const snapshots = quiet ? 0.25 : 0.04;
  const collections = quiet ? snapshots : 0.06;
  for (let step = 0; step < end; step++) {
    const r = random();
    if (step === programEnd) {
      replay.settle();
      observer.marker?.({ type: 'marker', stream: 1, seq, timeNs, kind: MARKER_KINDS.indexOf('program-end'), label: 'released' });
    } else if (r < snapshots) {
      replay.settle();
      timeNs += 1 + Math.floor(random() * 3);
      observer.snapshot(seq, timeNs);
    } else if (r < collections) {
      // A collection: a GC_START (not always: a young one soon after the last has none), its frees, its record.
      replay.settle();
      if (inGc < 0) {
        inGc = seq;
        if (random() < 0.7) observer.gcStart?.(seq);
      } else {
        observer.gc?.({ type: 'gc', stream: 1, seq, timeNs, generation: 0, collected: 1, uncollectable: 0, durationNs: 1, startSeq: inGc });
        inGc = -1;
      }
    } else if (r < 0.55 || live.length === 0) {
      const k = Math.floor(random() * siteIds.length);
      const site = siteIds[k]!;
      const size = random() < 0.01 ? (1 << 20) + Math.floor(random() * 1000) : 1 + Math.floor(random() * 200);
      const address = nextAddress;
      nextAddress += 0x10000;
      replay.eventAddress[0] = address;
      replay.allocAt(site, sites.thread(site), seq++, size, sites.allocator(site));
      live.push(address);
      sizeOf.set(address, size);
    } else {
      // Mostly the newest block (a realloc's free then its allocation, a temporary), else any.
      const i = random() < 0.6 ? live.length - 1 : Math.floor(random() * live.length);
      const address = live[i]!;
      live[i] = live[live.length - 1]!;
      live.pop();
      replay.eventAddress[0] = address;
      replay.freeAt(seq++, sizeOf.get(address)!, 0);
    }
  }
  replay.totals(true, 0);
  return { facts: forensics.finish(), calls };
}

test('the facts are the same with the gate as with every change passed on, with far fewer calls', () => {
  let gatedCalls = 0;
  let allCalls = 0;
  for (let seed = 1; seed <= 40; seed++) {
    for (const noRecentGrowth of [false, true]) {
      const all = run(seed, false, noRecentGrowth);
      const gated = run(seed, true, noRecentGrowth);
      assert.deepEqual(gated.facts, all.facts, `seed ${seed}`);
      gatedCalls += gated.calls;
      allCalls += all.calls;
    }
  }
  // The traces exercise what the gate depends on: growths by realloc, large allocations, collections.
  assert.ok(gatedCalls < allCalls * 0.9, `${gatedCalls} calls of ${allCalls}`);
});
