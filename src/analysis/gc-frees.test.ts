// The collector's frees: those with a seq inside [start_seq, seq) of a GC record, per record and per site.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GC_START_GAP, GC_THIN_WINDOW, OPTION_GC_START } from '../capture/format.js';
import { makeHeader } from '../capture/header.js';
import type { GcRecord } from '../capture/records.js';
import { ModelBuilder } from '../model/builder.js';
import type { SiteId } from '../model/ids.js';
import { GC_RING_FIRST, GcFrees, type GcFreesResult } from './gc-frees.js';

const site = (n: number): SiteId => n as SiteId;

function gc(seq: number, startSeq: number | undefined): GcRecord {
  return { type: 'gc', stream: 1, seq, timeNs: seq, generation: 0, collected: 1, uncollectable: 0, durationNs: 1, startSeq };
}

test('frees inside the window are the collection’s; before it, and allocations, are not', () => {
  const g = new GcFrees();
  g.change(site(1), 1, 100, 1); // an allocation
  g.change(site(1), 2, -100, -1); // freed before the collection started
  g.change(site(2), 3, -300, -1);
  g.change(site(3), 4, -50, -1);
  g.change(site(3), 5, -7, 0); // a piece of an unmapped region: bytes, no allocation
  g.gc(gc(6, 3));
  g.change(site(2), 7, -1000, -1); // after the collection: the next one's, if any
  g.gc(gc(9, 8));
  g.gc(gc(10, undefined));
  const r = g.finish();
  assert.deepEqual([...r.bytes], [357, 0, NaN]);
  assert.deepEqual([...r.count], [2, 0, NaN]);
  assert.deepEqual([...r.seq], [6, 9, 10]);
  assert.equal(r.incomplete, 0);
  assert.deepEqual(
    [...r.bySite].sort((a, b) => a[0] - b[0]),
    [
      [2, { bytes: 300, count: 1 }],
      [3, { bytes: 57, count: 1 }],
    ],
  );
});

test('a collection that freed more than the ring holds is counted as incomplete (lower bounds)', () => {
  const g = new GcFrees(8);
  for (let s = 1; s <= 100; s++) g.change(site(1), s, -10, -1); // the ring grows to 8, then drops the oldest
  g.gc(gc(101, 50));
  g.change(site(1), 102, -10, -1);
  g.gc(gc(103, 102));
  const r = g.finish();
  assert.deepEqual([...r.bytes], [80, 10]);
  assert.equal(r.incomplete, 1);
});

test('the ring keeps frees in order past thousands of entries', () => {
  const g = new GcFrees();
  for (let s = 1; s <= 10_000; s++) g.change(site(s % 3), s, -1, -1); // many more than one collection's worth
  g.gc(gc(10_001, 1_001));
  const r = g.finish();
  assert.equal(r.bytes[0], 9_000);
  assert.equal(r.count[0], 9_000);
  assert.equal(r.incomplete, 0);
});

test('the compact ring agrees with a plain list of frees: large seq gaps, big sizes and site ids, fractions, weights', () => {
  let state = 12345;
  const rnd = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  for (const cap of [1, 2, 8, 64, 1024, 4096]) {
    for (const bigSitesFrom of [Infinity, 1500]) {
      const g = new GcFrees(cap);
      ops = [];
      // The reference: every free since the last collection, the oldest dropped past `cap`.
      let kept: { seq: number; site: number; bytes: number; count: number }[] = [];
      let dropped = -1;
      const want = { bytes: [] as number[], count: [] as number[], incomplete: 0, bySite: new Map<number, { bytes: number; count: number }>() };
      let seq = 1;
      for (let step = 0; step < 3000; step++) {
        const r = rnd();
        const gap = rnd();
        seq += gap < 0.03 ? 2 ** 33 + Math.floor(rnd() * 1000) : gap < 0.06 ? 65_000 + Math.floor(rnd() * 1000) : 1 + Math.floor(rnd() * 5);
        if (r < 0.9) {
          const kind = rnd();
          const bytes =
            kind < 0.05
              ? 2 ** 32 + Math.floor(rnd() * 10)
              : kind < 0.1
                ? 0.5 + Math.floor(rnd() * 100)
                : kind < 0.15
                  ? 0xffffffff
                  : kind < 0.2
                    ? 0xffffff + Math.floor(rnd() * 3) - 1
                    : kind < 0.3
                      ? 0xffff + Math.floor(rnd() * 300_000)
                      : Math.floor(rnd() * 5000);
          const c = rnd();
          const count = c < 0.1 ? 0 : c < 0.15 ? 1 + Math.floor(rnd() * 4000) / 8 : 1; // exact in binary: any order of sums agrees
          // Site ids past 2^16 (and past 2^31) from step `bigSitesFrom` on: the high parts made mid-ring.
          const s = step >= bigSitesFrom && c > 0.5 ? (c > 0.9 ? 2 ** 31 + step : 65_536 + step * 7) : step % 7;
          g.change(site(s), seq, -bytes, -count);
          ops.push({ seq, site: s, bytes, count });
          kept.push({ seq, site: s, bytes, count });
          if (kept.length > cap) dropped = Math.max(dropped, kept.shift()!.seq);
        } else {
          const start = seq - Math.floor(rnd() * 40);
          seq += 1;
          g.gc(gc(seq, start));
          ops.push(gc(seq, start));
          let b = 0;
          let n = 0;
          for (const k of kept) {
            if (k.seq >= start && k.seq < seq) {
              b += k.bytes;
              n += k.count;
              const f = want.bySite.get(k.site);
              if (f === undefined) want.bySite.set(k.site, { bytes: k.bytes, count: k.count });
              else {
                f.bytes += k.bytes;
                f.count += k.count;
              }
            }
          }
          want.bytes.push(b);
          want.count.push(n);
          if (dropped >= start) want.incomplete++;
          kept = [];
          dropped = -1;
        }
      }
      const got = g.finish();
      const what = `cap ${cap}, big sites from ${bigSitesFrom}`;
      assert.deepEqual([...got.bytes], want.bytes, what);
      assert.deepEqual([...got.count], want.count, what);
      assert.equal(got.incomplete, want.incomplete, what);
      const bySite = (m: ReadonlyMap<number, { bytes: number; count: number }>): [number, number, number][] =>
        [...m].map(([k, v]): [number, number, number] => [k, v.bytes, v.count]).sort((a, b) => a[0] - b[0]);
      assert.deepEqual(bySite(got.bySite), bySite(want.bySite), what);
      // The same capture with GC_START records: the same figures, from a ring that kept only the collections' frees.
      const aware = new GcFrees(cap);
      replayWithStarts(aware, ops);
      const a = aware.finish();
      assert.deepEqual([...a.bytes], want.bytes, `${what}, with GC_START`);
      assert.deepEqual([...a.count], want.count, `${what}, with GC_START`);
      assert.equal(a.incomplete, want.incomplete, `${what}, with GC_START`);
      assert.deepEqual(bySite(a.bySite), bySite(want.bySite), `${what}, with GC_START`);
    }
  }
});

type Op = { seq: number; site: number; bytes: number; count: number } | GcRecord;
let ops: Op[] = [];

/** Feeds `ops` with a GC_START before the first free of each collection (its start_seq or later), as the agent writes it. */
function replayWithStarts(g: GcFrees, list: readonly Op[]): void {
  let from = 0;
  for (let j = 0; j < list.length; j++) {
    const op = list[j]!;
    if ('type' in op) {
      // Free ops from `from` up to j: the GC_START goes before the first with seq ≥ start.
      const start = op.startSeq!;
      let k = from;
      while (k < j && (list[k] as { seq: number }).seq < start) k++;
      for (let m = from; m < j; m++) {
        if (m === k) g.gcStart(start);
        const f = list[m] as { seq: number; site: number; bytes: number; count: number };
        g.change(site(f.site), f.seq, -f.bytes, -f.count);
      }
      if (k === j) g.gcStart(start);
      g.gc(op);
      from = j + 1;
    }
  }
}

function feed(g: GcFrees, starts: boolean): GcFreesResult {
  // 100 000 frees between collections, 5 in each collection, 3 collections; a few large and big-site frees.
  let seq = 1;
  for (let c = 0; c < 3; c++) {
    for (let k = 0; k < 100_000; k++, seq++) g.change(site(k % 5), seq, -(k % 97), -1);
    const start = seq;
    if (starts) g.gcStart(start);
    for (let k = 0; k < 5; k++, seq++) g.change(site(k === 0 ? 70_000 : 9), seq, k === 1 ? -100_000 : -16, -1);
    g.gc(gc(seq, start));
  }
  return g.finish();
}

test('with GC_START records the ring holds only the collections’ frees, small; without them the figures are the same', () => {
  const aware = new GcFrees();
  const a = feed(aware, true);
  const old = new GcFrees();
  const o = feed(old, false);
  assert.deepEqual([...a.bytes], [100_064, 100_064, 100_064]);
  assert.deepEqual([...a.bytes], [...o.bytes]);
  assert.deepEqual([...a.count], [...o.count]);
  assert.equal(a.incomplete, 0);
  assert.equal(o.incomplete, 0);
  assert.deepEqual(
    [...a.bySite].sort((x, y) => x[0] - y[0]),
    [...o.bySite].sort((x, y) => x[0] - y[0]),
  );
  // Entries written: before the first GC_START every free (nothing says yet that the capture has them), then
  // the collections' frees only, where a ring of every free since the last collection writes them all.
  assert.equal(aware.written, 100_015);
  assert.equal(old.written, 300_015);
});

test('with GC_START records the ring grows by need, and a collection past its cap or without its GC_START is incomplete', () => {
  const g = new GcFrees(4 * GC_RING_FIRST);
  let seq = 1;
  g.change(site(1), seq++, -1, -1);
  g.gcStart(seq);
  g.gc(gc(seq, 2)); // an empty collection
  for (let k = 0; k < 2_000_000; k++) g.change(site(1), seq++, -1, -1); // outside one: not kept
  assert.equal((g as unknown as { len: number }).len, GC_RING_FIRST);
  assert.equal(g.written, 1);
  g.gcStart(seq);
  const first = seq;
  for (let k = 0; k < 3 * GC_RING_FIRST; k++) g.change(site(1), seq++, -2, -1); // grows twice
  g.gc(gc(seq, first));
  assert.equal((g as unknown as { len: number }).len, 4 * GC_RING_FIRST);
  // A collection freeing more than the cap: the newest cap frees, incomplete.
  g.gcStart(seq);
  const start = seq;
  for (let k = 0; k < 5 * GC_RING_FIRST; k++) g.change(site(1), seq++, -1, -1);
  g.gc(gc(seq, start));
  // A GC record whose GC_START is missing: its frees were not kept.
  const lost = seq;
  g.change(site(1), seq++, -5, -1);
  g.gc(gc(seq, lost));
  const r = g.finish();
  assert.deepEqual([...r.bytes], [0, 6 * GC_RING_FIRST, 4 * GC_RING_FIRST, 0]);
  assert.equal(r.incomplete, 2);
});

test('frees of 64 KiB or more wait beside until there are many (the high parts of the bytes not made for a few), then in the high parts, with the same figures', () => {
  const highParts = (g: GcFrees): Uint8Array | undefined => (g as unknown as { bytesHi?: Uint8Array }).bytesHi;
  for (const large of [500, 3000]) {
    const g = new GcFrees(8192);
    let seq = 1;
    let want = 0;
    // Sizes of 0xffff (the low part's mark for "beside" while there is no high part) and above, among small ones.
    for (let k = 0; k < 2 * large; k++) {
      const bytes = k % 2 === 0 ? 0xffff + (k % 7) * 100_003 : 10 + (k % 50);
      g.change(site(k % 3), seq++, -bytes, -1);
      want += bytes;
    }
    g.gc(gc(seq, 1));
    const r = g.finish();
    assert.equal(r.bytes[0], want, `${large} large frees`);
    assert.equal(r.count[0], 2 * large);
    // A few hundred: the map holds them, no quarter-MiB array (7 bytes an entry); thousands: the array.
    assert.equal(highParts(g) === undefined, large < 1024, `${large} large frees`);
  }
});

test('a header whose options say GC_START records come keeps no free before the first collection; without the bit, the figures are the same', () => {
  // Through the model builder, as `memlens stats` has it: 300 000 frees before the first collection (a program
  // that ran with the collector disabled), then two collections of 5 frees each.
  const run = (options: number): { r: GcFreesResult; g: GcFrees } => {
    const g = new GcFrees();
    const b = new ModelBuilder({ observer: g });
    b.header(makeHeader({ options }));
    let seq = 1;
    const frees = (n: number): void => {
      for (let k = 0; k < n; k++, seq += 2) {
        b.alloc(1, seq, 0x10_0000 + 16 * k, 16 + (k % 5), 0, 0, 0);
        b.free(1, seq + 1, 0x10_0000 + 16 * k, 0, 0);
      }
    };
    frees(150_000);
    for (let c = 0; c < 2; c++) {
      const start = seq;
      b.meta({ type: 'gc-start', stream: 1, seq: start });
      frees(5);
      b.meta(gc(seq, start));
      frees(1_000);
    }
    b.finish();
    return { r: g.finish(), g };
  };
  const withBit = run(OPTION_GC_START);
  const without = run(0);
  assert.deepEqual([...withBit.r.count], [5, 5]);
  assert.deepEqual([...withBit.r.bytes], [...without.r.bytes]);
  assert.deepEqual([...withBit.r.count], [...without.r.count]);
  assert.equal(withBit.r.incomplete, 0);
  assert.equal(without.r.incomplete, 0);
  assert.deepEqual([...withBit.r.bySite], [...without.r.bySite]);
  // With the bit, only the collections' frees and the 1 000 after each GC record (within GC_THIN_WINDOW seqs,
  // where a young collection without its GC_START would be) were written, and the ring stayed small; without
  // it, every free before the first GC_START, and the ring went to its cap.
  assert.equal(withBit.g.written, 10 + 2 * 1_000);
  assert.equal((withBit.g as unknown as { len: number }).len, GC_RING_FIRST);
  assert.equal(without.g.written, 150_010);
});

test('with the header bit, a young collection without its GC_START is counted from the frees of the window after the last GC record; one that frees past the window is incomplete; frees past it are not kept', () => {
  // Seqs as the agent takes them: one per event. A collection with its GC_START, then one without it 100 seqs
  // after the first's GC record (the agent leaves it out for a young collection within GC_START_GAP), then a
  // long quiet stretch, then one without it whose frees run past the window.
  const g = new GcFrees();
  const b = new ModelBuilder({ observer: g });
  b.header(makeHeader({ options: OPTION_GC_START }));
  let seq = 1;
  let addr = 0x10_0000;
  const frees = (n: number, bytes = 16): void => {
    for (let k = 0; k < n; k++, seq += 2, addr += 16) {
      b.alloc(1, seq, addr, bytes, 0, 0, 0);
      b.free(1, seq + 1, addr, 0, 0);
    }
  };
  frees(50_000); // before the first collection: not kept
  const start1 = seq;
  b.meta({ type: 'gc-start', stream: 1, seq: start1 });
  frees(3);
  b.meta(gc(seq, start1));
  const end1 = seq;
  frees(50); // 100 seqs: kept, in the window
  const start2 = seq;
  frees(7, 24); // a young collection's frees, no GC_START
  b.meta(gc(seq, start2));
  frees(GC_THIN_WINDOW); // twice the window's seqs: the second half is not kept
  const start3 = seq - 10; // a collection without GC_START whose start is in this stretch (a damaged capture:
  // the agent leaves it out only within GC_START_GAP of the last GC record)
  b.meta(gc(seq, start3));
  b.finish();
  const r = g.finish();
  assert.ok(start2 - end1 < GC_START_GAP);
  assert.deepEqual([...r.count], [3, 7, 0]);
  assert.deepEqual([...r.bytes], [3 * 16, 7 * 24, 0]);
  // The third collection's 5 frees came after the window: not kept, its figures a lower bound, counted incomplete.
  assert.equal(r.incomplete, 1);
  assert.ok(g.written <= 3 + 50 + 7 + GC_THIN_WINDOW / 2 + 1, `${g.written} entries written`);
});
