import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Collector, FrameCollector, type Item } from '../../test/support/collect.js';
import { prng as rng } from '../../test/support/prng.js';
import { FOLLOW_FAST_LEVEL, recompressCapture } from './compress.js';
import { decodeCapture } from './decoder.js';
import { CaptureWriter, encodeBlock } from './encoder.js';
import { RecordType } from './format.js';
import { SeqOrderer } from './order.js';
import { type CaptureVisitor, eventAddress } from './records.js';

/**
 * A random capture shaped like the agent's: threads record events with a global seq into their own
 * blocks, blocks are flushed at random moments, flush rounds write barriers; metas with and without seq
 * are sprinkled in, some with a stale seq.
 */
function randomCapture(seed: number, events: number, withBarriers = true, barrierLag = 0, bigBlocks = false): Uint8Array {
  const rand = rng(seed);
  let lastBarrier = 0;
  const w = new CaptureWriter({ header: { writerName: 'test' }, blockSize: (bigBlocks ? 4096 : 64) + Math.floor(rand() * 400) });
  const threads = 1 + Math.floor(rand() * 5);
  let seq = 0;
  for (let e = 0; e < events; e++) {
    const stream = 1 + Math.floor(rand() * threads);
    const r = rand();
    if (r < 0.05) w.frame(stream, 0, 1, e);
    else if (r < 0.07) w.meta({ type: 'gc', stream, seq: seq + 1, timeNs: e, generation: 0, collected: 0, uncollectable: 0, durationNs: 0, startSeq: seq });
    else if (r < 0.08) w.meta({ type: 'marker', stream, seq: Math.max(0, seq - 5), timeNs: e, kind: 5, label: 'stale' });
    else if (r < 0.1)
      w.meta({ type: 'snapshot', stream: 0, seq: seq + 1, timeNs: e, rss: e, rssAnon: 0, rssFile: 0, rssShmem: 0, swap: undefined, heap: undefined, cgroupUsage: undefined, cgroupLimit: undefined });
    else if (r < 0.11) w.meta({ type: 'note', stream: rand() < 0.5 ? 0 : stream, kind: 1, text: `n${e}` });
    else if (r < 0.55) w.alloc(stream, ++seq, 0x1000 + 8 * e, e, 0, 0, 0);
    else w.free(stream, ++seq, 0x1000 + 8 * Math.floor(rand() * e), 0, 0);
    const f = rand();
    if (f < 0.03) w.flush(stream);
    else if (f < 0.035 && withBarriers) {
      // With a lag, events up to `barrierLag` past the barrier's seq were flushed before it, as when a
      // thread flushes while the service thread writes the barrier of the previous round.
      lastBarrier = Math.max(lastBarrier, seq + 1 - Math.floor(rand() * (barrierLag + 1)));
      w.barrier(lastBarrier);
    }
  }
  return w.finish();
}

function keyOf(it: Item): [number, number] {
  if (it.type === 'alloc' || it.type === 'free') return [it.seq, 1];
  if ('seq' in it) return [it.seq, 0];
  return [-Infinity, 0];
}

/** The documented rule, implemented as plainly as possible: keys in file order, then a stable sort. */
function naiveOrder(items: readonly Item[]): Item[] {
  const last = new Map<number, [number, number]>();
  let wm: [number, number] = [-Infinity, 0];
  const max = (a: [number, number], b: [number, number]): [number, number] => (a[0] > b[0] || (a[0] === b[0] && a[1] >= b[1]) ? a : b);
  const keyed = items.map((it, pos) => {
    let k = keyOf(it);
    k = max(k, last.get(it.stream) ?? [-Infinity, 0]);
    k = max(k, wm);
    last.set(it.stream, k);
    if (it.type === 'barrier') wm = k;
    return { it, k, pos };
  });
  keyed.sort((a, b) => a.k[0] - b.k[0] || a.k[1] - b.k[1] || a.pos - b.pos);
  return keyed.map((x) => x.it);
}

function ordered(bytes: Uint8Array, maxBuffered?: number): Item[] {
  const c = new Collector();
  const o = new SeqOrderer(c, maxBuffered !== undefined ? { maxBuffered } : {});
  decodeCapture(bytes, o);
  o.end();
  return c.c.items;
}

function fileOrder(bytes: Uint8Array): Item[] {
  const c = new Collector();
  decodeCapture(bytes, c);
  return c.c.items;
}

test('orderer equals a naive sort by the documented rule (property, 300 random captures)', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const bytes = randomCapture(seed, 50 + (seed % 7) * 60, seed % 5 !== 0);
    const items = fileOrder(bytes);
    assert.deepEqual(ordered(bytes), naiveOrder(items), `seed ${seed}`);
  }
});

test('orderer equals the naive sort when events past a barrier were written before it (property, 300 random captures)', () => {
  for (let seed = 3000; seed < 3300; seed++) {
    const bytes = randomCapture(seed, 100 + (seed % 9) * 70, true, 1 + (seed % 40));
    const items = fileOrder(bytes);
    assert.deepEqual(ordered(bytes), naiveOrder(items), `seed ${seed}`);
  }
});

test('orderer equals the naive sort when threads run several barriers ahead (property, 200 random captures)', () => {
  // Barriers lagging by up to a few hundred events: a thread's blocks pile up past several barriers.
  for (let seed = 5000; seed < 5200; seed++) {
    const bytes = randomCapture(seed, 300 + (seed % 7) * 100, true, 50 + (seed % 5) * 80);
    assert.deepEqual(ordered(bytes), naiveOrder(fileOrder(bytes)), `seed ${seed}`);
  }
});

test('orderer equals the naive sort when blocks span many barriers (property, 200 random captures)', () => {
  // Blocks of 4 KiB or more: a release stops decoding a block part way and decodes it again later,
  // passing over what it delivered (FRAME ids included: the random captures intern frames).
  for (let seed = 6000; seed < 6200; seed++) {
    const bytes = randomCapture(seed, 400 + (seed % 7) * 150, true, seed % 3 === 0 ? 0 : 30 + (seed % 5) * 60, true);
    assert.deepEqual(ordered(bytes), naiveOrder(fileOrder(bytes)), `seed ${seed}`);
  }
});

test("pack parts that wait as their pack's stored bytes come out as copies of them would (property, 150 random captures)", () => {
  // packedFrom 0: every pack's waiting parts are read from the pack decompressed again (decoder.ts,
  // PackedParts), with blocks stopped at a barrier and decoded again, several threads, and packs taking
  // turns in the one buffer; against the same capture read with every part copied.
  for (let seed = 7000; seed < 7150; seed++) {
    const bytes = recompressCapture(randomCapture(seed, 400 + (seed % 7) * 150, true, seed % 3 === 0 ? 0 : 30 + (seed % 5) * 60, seed % 2 === 0), { level: FOLLOW_FAST_LEVEL, packs: true });
    const read = (packedFrom: number): Item[] => {
      const c = new Collector();
      const o = new SeqOrderer(c);
      decodeCapture(bytes, o, { packedFrom });
      o.end();
      return c.c.items;
    };
    assert.deepEqual(read(0), read(Infinity), `seed ${seed}`);
  }
});

test('a thread ahead of the barriers: its blocks stay undecoded until a barrier reaches them', () => {
  // Thread 1 writes seq 1–40 in four blocks before the first barrier. Barriers 1, 2 and 3 each decode
  // block 1 up to the first event past them (none, seq 1, seq 2: decoding stops there, and the next
  // release passes over what was delivered); barrier 15 finishes block 1 and stops in block 2; blocks 3
  // and 4 wait undecoded until barrier 41.
  const w = new CaptureWriter({ header: { writerName: 'test' } });
  for (let seq = 1; seq <= 40; seq++) {
    w.alloc(1, seq, 0x1000 + 8 * seq, 16, 0, 0, 0);
    if (seq % 10 === 0) w.flush(1);
  }
  for (const b of [1, 2, 3, 15, 41]) w.barrier(b);
  const bytes = w.finish();
  const c = new Collector();
  const o = new SeqOrderer(c);
  let decoded = 0;
  const atBarrier: number[] = [];
  const spy: CaptureVisitor = {
    header: (h) => o.header(h),
    block: () => o.block(),
    alloc: (...a) => o.alloc(...a),
    free: (...a) => o.free(...a),
    meta: (r) => {
      o.meta(r);
      if (r.type === 'barrier') atBarrier.push(decoded);
    },
    defer: (b) =>
      o.defer({
        stream: b.stream,
        rawLen: b.rawLen,
        decode: (to) => {
          decoded++;
          b.decode(to);
        },
      }),
  };
  decodeCapture(bytes, spy);
  o.end();
  assert.deepEqual(atBarrier, [1, 2, 3, 5, 8]);
  assert.deepEqual(c.c.items, naiveOrder(fileOrder(bytes)));
});

test('a block decoded again in parts: its records and warnings come out once, its FRAME ids stay', () => {
  // Version 1's address coding (hand-written records, as in decoder.test.ts): FREE seq 1, a FRAME with a
  // field missing (a warning; it still takes id 1), FREE seq 2, FRAME id 2, FREE seq 3 and 4. Barrier 2
  // stops the block at seq 2, barrier 3 decodes it again (passing over seq 1 and the bad FRAME) and stops
  // at seq 3, barrier 5 decodes the rest.
  const w = new CaptureWriter({ header: { version: 1 } });
  const free = [0x62, 0x02];
  const rec = (t: number, payload: number[]): number[] => [t, payload.length, ...payload];
  w.raw(encodeBlock(1, 0, new Uint8Array([...free, ...rec(RecordType.Frame, [0, 1]), ...free, ...rec(RecordType.Frame, [0, 1, 2]), ...free, ...free])));
  for (const b of [2, 3, 5]) w.barrier(b);
  const bytes = w.finish();
  const c = new Collector();
  const o = new SeqOrderer(c);
  decodeCapture(bytes, o);
  o.end();
  assert.deepEqual(
    c.c.items.filter((i) => i.stream === 1).map((i) => (i.type === 'free' ? `free ${i.seq}` : i.type === 'frame' ? `frame ${i.id}` : i.type)),
    ['free 1', 'free 2', 'frame 2', 'free 3', 'free 4'],
  );
  assert.deepEqual(
    c.c.warnings.map((x) => x.kind),
    ['bad-record'],
  );
  assert.deepEqual(c.c.items, naiveOrder(fileOrder(bytes)));
});

test('one thread: its blocks go straight through, around the service records, in the naive order', () => {
  // The common case the orderer decodes without copying: a single stream of events between barriers,
  // with snapshots and GC records landing between its events and events past each barrier.
  for (let seed = 4000; seed < 4100; seed++) {
    const rand = rng(seed);
    const w = new CaptureWriter({ header: { writerName: 'test' }, blockSize: 64 + Math.floor(rand() * 200) });
    let seq = 0;
    let barrier = 0;
    for (let e = 0; e < 600; e++) {
      const r = rand();
      if (r < 0.04)
        w.meta({ type: 'snapshot', stream: 0, seq: seq + 1, timeNs: e, rss: e, rssAnon: 0, rssFile: 0, rssShmem: 0, swap: undefined, heap: undefined, cgroupUsage: undefined, cgroupLimit: undefined });
      else if (r < 0.06) w.meta({ type: 'gc', stream: 1, seq: seq + 1, timeNs: e, generation: 0, collected: 0, uncollectable: 0, durationNs: 0, startSeq: seq });
      else if (r < 0.08) w.frame(1, 0, 1, e);
      else if (r < 0.6) w.alloc(1, ++seq, 0x1000 + 8 * e, e, 0, 0, 0);
      else w.free(1, ++seq, 0x1000 + 8 * Math.floor(rand() * e), 0, 0);
      if (rand() < 0.05) w.flush(1);
      if (rand() < 0.02) {
        barrier = Math.max(barrier, seq + 1 - Math.floor(rand() * 20));
        w.barrier(barrier);
      }
    }
    const bytes = w.finish();
    assert.deepEqual(ordered(bytes), naiveOrder(fileOrder(bytes)), `seed ${seed}`);
  }
});

test('events come out in seq order and each stream keeps its file order', () => {
  for (let seed = 1000; seed < 1050; seed++) {
    const bytes = randomCapture(seed, 500);
    const out = ordered(bytes);
    let prev = 0;
    for (const it of out) {
      if (it.type === 'alloc' || it.type === 'free') {
        assert.ok(it.seq > prev, `seed ${seed}: seq ${it.seq} after ${prev}`);
        prev = it.seq;
      }
    }
    const streams = new Set(out.map((i) => i.stream));
    const inFile = fileOrder(bytes);
    for (const s of streams) {
      assert.deepEqual(
        out.filter((i) => i.stream === s),
        inFile.filter((i) => i.stream === s),
      );
    }
  }
});

test('a record carrying seq S comes after events below S and before the event S', () => {
  const w = new CaptureWriter({ header: {} });
  w.alloc(1, 1, 0x10, 1, 0, 0, 0);
  w.alloc(1, 3, 0x18, 1, 0, 0, 0);
  w.flush(1);
  w.alloc(2, 2, 0x20, 1, 0, 0, 0);
  w.alloc(2, 4, 0x28, 1, 0, 0, 0);
  w.flush(2);
  w.meta({ type: 'snapshot', stream: 0, seq: 3, timeNs: 0, rss: 0, rssAnon: 0, rssFile: 0, rssShmem: 0, swap: undefined, heap: undefined, cgroupUsage: undefined, cgroupLimit: undefined });
  w.barrier(5);
  const out = ordered(w.finish()).map((i) => `${i.type}${'seq' in i ? i.seq : ''}`);
  assert.deepEqual(out, ['alloc1', 'alloc2', 'snapshot3', 'alloc3', 'alloc4', 'barrier5']);
});

test('a FRAME reaches the visitor before the ALLOC of its stream that uses it', () => {
  const w = new CaptureWriter({ header: {} });
  w.alloc(2, 2, 0x20, 1, 0, 0, 0);
  w.flush(2);
  const f = w.frame(1, 0, 7, 0);
  w.alloc(1, 1, 0x10, 1, 0, f, 0);
  w.flush(1);
  w.barrier(3);
  const out = ordered(w.finish()).map((i) => `${i.type}${'seq' in i ? i.seq : ''}`);
  assert.deepEqual(out, ['frame', 'alloc1', 'alloc2', 'barrier3']);
});

test('past maxBuffered without a barrier, everything is still delivered once, streams in file order', () => {
  for (let seed = 2000; seed < 2020; seed++) {
    const bytes = randomCapture(seed, 800, false);
    const out = ordered(bytes, 16);
    const inFile = fileOrder(bytes);
    assert.equal(out.length, inFile.length);
    for (const s of new Set(inFile.map((i) => i.stream))) {
      assert.deepEqual(
        out.filter((i) => i.stream === s),
        inFile.filter((i) => i.stream === s),
      );
    }
  }
});

test('streams with ids past 2^31 are ordered as small ones, and `delivered` counts every record from 0', () => {
  // The orderer's counts, positions and stream ids start as doubles (DOUBLE_FIELD, records.ts) and are set
  // to their start values in the constructor; ids and seqs past 2^31 must still compare exactly.
  const streams = [0x80000001, 0xfffffffe, 3];
  const w = new CaptureWriter({ header: { writerName: 'test' }, blockSize: 96 });
  const rand = rng(77);
  let seq = 2 ** 32 - 50;
  for (let e = 0; e < 400; e++) {
    const stream = streams[Math.floor(rand() * streams.length)]!;
    if (rand() < 0.6) w.alloc(stream, ++seq, 0x1000 + 8 * e, e, 0, 0, 0);
    else w.free(stream, ++seq, 0x1000 + 8 * Math.floor(rand() * e), 0, 0);
    if (rand() < 0.05) w.flush(stream);
    if (rand() < 0.03) w.barrier(seq + 1);
  }
  const bytes = w.finish();
  const c = new Collector();
  const o = new SeqOrderer(c);
  decodeCapture(bytes, o);
  o.end();
  assert.deepEqual(c.c.items, naiveOrder(fileOrder(bytes)));
  assert.equal(o.delivered, c.c.items.length);
});

/**
 * 32 threads taking turns in slices of 40 events, one barrier every 20 000 events (the shape of
 * bench/report-workloads/threads.py, where a barrier interval held 272 774 records in the columns).
 */
function manyThreads(events: number, threads = 32): Uint8Array {
  const w = new CaptureWriter({ header: { writerName: 'test' }, blockSize: 512 });
  const rand = rng(32);
  let seq = 0;
  for (let e = 0; e < events; e++) {
    const stream = 1 + (Math.floor(e / 40) % threads);
    if (rand() < 0.55) w.alloc(stream, ++seq, 0x1000 + 8 * e, 16 + (e % 64), 0, 0, 0);
    else w.free(stream, ++seq, 0x1000 + 8 * Math.floor(rand() * e), 0, 0);
    if (e % 20_000 === 19_999) w.barrier(seq + 1);
  }
  return w.finish();
}

test('many threads between two barriers: the columns hold about one block of each, their slots taken again', () => {
  const bytes = manyThreads(100_000);
  // The most records a block of the capture holds.
  let perBlock = 0;
  let most = 0;
  decodeCapture(bytes, {
    block: () => {
      perBlock = 0;
    },
    alloc: () => {
      most = Math.max(most, ++perBlock);
    },
    free: () => {
      most = Math.max(most, ++perBlock);
    },
    meta: () => {},
  });
  const c = new Collector();
  const o = new SeqOrderer(c);
  decodeCapture(bytes, o);
  o.end();
  assert.deepEqual(c.c.items, naiveOrder(fileOrder(bytes)));
  // Decoding every block of an interval first held its 20 000 records; a slot never taken again, as many.
  assert.ok(most > 50 && most < 200, `${most} records a block`);
  assert.ok(o.mostHeld <= 32 * most, `${o.mostHeld} records held at once, blocks of ${most}`);
  assert.ok(o.mostSlots <= 32 * most + 32, `${o.mostSlots} column slots, ${o.mostHeld} held at most`);
});

test("records that waited in the columns reach a visitor's freeAt(), with the FREE's address in eventAddress", () => {
  class AtCollector extends Collector {
    frees = 0;
    freeAt(stream: number, seq: number, size: number, deallocator: number): void {
      this.frees++;
      this.free(stream, seq, eventAddress[0]!, size, deallocator);
    }
  }
  const bytes = manyThreads(20_000, 4);
  const at = new AtCollector();
  const o = new SeqOrderer(at);
  decodeCapture(bytes, o);
  o.end();
  const frees = at.c.items.filter((it) => it.type === 'free').length;
  assert.ok(frees > 5000);
  assert.equal(at.frees, frees);
  assert.deepEqual(at.c.items, naiveOrder(fileOrder(bytes)));
});

test('orderer equals the naive sort with many threads, barriers rare and lagging (property, 60 random captures)', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const rand = rng(seed * 7919);
    const threads = 6 + Math.floor(rand() * 20);
    const w = new CaptureWriter({ header: { writerName: 'test' }, blockSize: 64 + Math.floor(rand() * 300) });
    let seq = 0;
    let barrier = 0;
    let stream = 1;
    for (let e = 0; e < 3000; e++) {
      if (rand() < 0.05) stream = 1 + Math.floor(rand() * threads);
      const r = rand();
      if (r < 0.03) w.frame(stream, 0, 1, e);
      else if (r < 0.05) w.meta({ type: 'marker', stream, seq: Math.max(0, seq - 3), timeNs: e, kind: 5, label: 'stale' });
      else if (r < 0.06) w.meta({ type: 'note', stream, kind: 1, text: `n${e}` });
      else if (r < 0.55) w.alloc(stream, ++seq, 0x1000 + 8 * e, e, 0, 0, 0);
      else w.free(stream, ++seq, 0x1000 + 8 * Math.floor(rand() * e), 0, 0);
      if (rand() < 0.01) w.flush(stream);
      if (rand() < 0.004) {
        barrier = Math.max(barrier, seq + 1 - Math.floor(rand() * 30));
        w.barrier(barrier);
      }
    }
    const bytes = w.finish();
    assert.deepEqual(ordered(bytes), naiveOrder(fileOrder(bytes)), `seed ${seed}`);
  }
});

test('FRAMEs straight through and FRAMEs held in the columns come out in the naive order with their values, as numbers or as records (property, 200 random captures)', () => {
  // Seeds of one thread and of several, small and big blocks, barriers lagging or not: FRAMEs that go straight
  // through and FRAMEs that wait in the columns (held as their four numbers, KIND_FRAME), to a visitor that
  // takes them as numbers (frame()) and to one that takes them as records (meta(), the orderer makes them).
  let straight = 0;
  let held = 0;
  for (let seed = 8000; seed < 8200; seed++) {
    const bytes = randomCapture(seed, 200 + (seed % 7) * 100, seed % 4 !== 0, seed % 3 === 0 ? 0 : 30 + (seed % 5) * 40, seed % 2 === 0);
    const expected = naiveOrder(fileOrder(bytes));
    const f = new FrameCollector();
    const o = new SeqOrderer(f);
    decodeCapture(bytes, o);
    o.end();
    assert.deepEqual(f.c.items, expected, `seed ${seed}`);
    assert.deepEqual(ordered(bytes), expected, `seed ${seed}, FRAMEs as records`);
    const frames = f.c.items.filter((i) => i.type === 'frame').length;
    // Every FRAME as numbers, the held ones too: none was made a record on its way.
    assert.equal(f.asNumbers, frames, `seed ${seed}`);
    held += o.framesHeld;
    straight += frames - o.framesHeld;
  }
  // Both paths taken, or the comparisons above prove nothing about one of them.
  assert.ok(straight > 500 && held > 500, `${straight} FRAMEs straight through, ${held} held in the columns`);
});

/**
 * Threads taking turns between two barriers, thread 1 in most of the turns: each turn opens with a FRAME,
 * then its events. `other` turns in `every` are the other threads'.
 */
function oneBusyThread(events: number, threads: number, every: number, other: number, seed: number): Uint8Array {
  const w = new CaptureWriter({ header: { writerName: 'test' }, blockSize: 256 });
  const rand = rng(seed);
  let seq = 0;
  let turn = 0;
  for (let e = 0; e < events; e += 30) {
    const stream = turn++ % every < other ? 2 + Math.floor(rand() * (threads - 1)) : 1;
    const parent = w.frame(stream, 0, 1, e);
    for (let i = 0; i < 30; i++) {
      if (rand() < 0.55) w.alloc(stream, ++seq, 0x1000 + 8 * (e + i), 16 + (i % 64), 0, parent, 0);
      else w.free(stream, ++seq, 0x1000 + 8 * Math.floor(rand() * (e + i)), 0, 0);
    }
    if (rand() < 0.02) w.barrier(seq + 1 - Math.floor(rand() * 20));
  }
  return w.finish();
}

test('a release of several streams: the one with the most bytes goes straight through, the others wait in the columns', () => {
  const bytes = oneBusyThread(30_000, 4, 4, 1, 5);
  const f = new FrameCollector();
  const o = new SeqOrderer(f);
  decodeCapture(bytes, o);
  o.end();
  assert.deepEqual(f.c.items, naiveOrder(fileOrder(bytes)));
  // Thread 1's FRAMEs, three turns in four, go straight; every release holds blocks of other threads too, whose
  // FRAMEs wait in the columns (framesHeld).
  const frames = f.c.items.filter((i) => i.type === 'frame');
  const busy = frames.filter((i) => i.stream === 1).length;
  const straight = frames.length - o.framesHeld;
  assert.ok(busy > 500, `${busy} FRAMEs of thread 1`);
  assert.ok(straight >= busy * 0.9 && straight <= busy, `${straight} FRAMEs straight through, thread 1 has ${busy} of ${frames.length}`);
  // The straight stream's decoding stopped to refill the other threads' runs from inside its own.
  assert.ok(o.refills > 10, `${o.refills} refills`);
});

test('the straight stream of a release of several streams, refilling the others from inside its decoding, keeps the naive order (property, 150 random captures)', () => {
  let refills = 0;
  for (let seed = 1; seed <= 150; seed++) {
    const bytes = oneBusyThread(1500 + (seed % 5) * 600, 2 + (seed % 7), 2 + (seed % 4), 1 + (seed % 2), seed);
    const c = new Collector();
    const o = new SeqOrderer(c);
    decodeCapture(bytes, o);
    o.end();
    assert.deepEqual(c.c.items, naiveOrder(fileOrder(bytes)), `seed ${seed}`);
    refills += o.refills;
  }
  assert.ok(refills > 1000, `${refills} refills`);
});

test('a release of several streams: once the straight stream is done, the one with the most bytes left goes straight next', () => {
  // Three threads in turn between two barriers: 600 events of thread 1, then 400 of thread 2, then 100 of
  // thread 3, a FRAME every tenth event. Thread 1 goes straight; thread 2's blocks after its first (decoded
  // into the columns while thread 1's went out) then go straight too, and so do thread 3's after its first.
  const w = new CaptureWriter({ header: { writerName: 'test' }, blockSize: 256 });
  let seq = 0;
  for (let round = 0; round < 10; round++) {
    for (const [stream, n] of [
      [1, 600],
      [2, 400],
      [3, 100],
    ] as const) {
      for (let e = 0; e < n; e++) {
        if (e % 10 === 0) w.frame(stream, 0, 1, e);
        if (e % 2 === 0) w.alloc(stream, ++seq, 0x1000 + 8 * e, 16, 0, 0, 0);
        else w.free(stream, ++seq, 0x1000 + 8 * (e - 1), 0, 0);
      }
    }
    w.barrier(seq + 1);
  }
  const bytes = w.finish();
  // Per stream, the FRAMEs that went straight through: those delivered while the orderer's count of FRAMEs from
  // the columns stood still (deliver() counts one before passing it on).
  const straight = new Map<number, number>();
  let heldSeen = 0;
  class ByStream extends FrameCollector {
    override frame(stream: number, id: number, parent: number, codeId: number, instr: number): void {
      if (o.framesHeld === heldSeen) straight.set(stream, (straight.get(stream) ?? 0) + 1);
      heldSeen = o.framesHeld;
      super.frame(stream, id, parent, codeId, instr);
    }
  }
  const f = new ByStream();
  const o = new SeqOrderer(f);
  decodeCapture(bytes, o);
  o.end();
  assert.deepEqual(f.c.items, naiveOrder(fileOrder(bytes)));
  assert.equal(straight.get(1), 600);
  const second = straight.get(2) ?? 0;
  const third = straight.get(3) ?? 0;
  assert.ok(second >= 250 && second < 400, `${second} of thread 2's 400 FRAMEs straight through`);
  assert.ok(third > 0 && third < 100, `${third} of thread 3's 100 FRAMEs straight through`);
});

test("a FRAME that opens the straight stream's next block, its key tied with a column record's, waits for it (frame()'s fast path)", () => {
  // Thread 1 (the most bytes: straight) ends a block with a GC record of seq 40, key (40, 0); thread 2's block,
  // later in the file, holds a marker of seq 40, key (40, 0) too, in the columns; thread 1's next block opens
  // with a FRAME, raised to (40, 0) and later in the file than the marker: it comes after it. Its key equals the
  // smallest column record's, so frame()'s fast path (a key strictly before it) must not take it.
  const w = new CaptureWriter({ header: { writerName: 'test' } });
  let seq = 0;
  for (let i = 0; i < 30; i++) w.alloc(1, ++seq, 0x1000 + 16 * i, 16, 0, 0, 0);
  w.meta({ type: 'gc', stream: 1, seq: 40, timeNs: 1, generation: 0, collected: 0, uncollectable: 0, durationNs: 0, startSeq: 30 });
  w.flush(1);
  w.meta({ type: 'marker', stream: 2, seq: 40, timeNs: 2, kind: 5, label: 'tie' });
  w.flush(2);
  const f = w.frame(1, 0, 7, 3);
  for (let i = 0; i < 30; i++) w.alloc(1, 40 + i, 0x2000 + 16 * i, 16, 0, f, 0);
  w.flush(1);
  w.barrier(100);
  const bytes = w.finish();
  const fc = new FrameCollector();
  const o = new SeqOrderer(fc);
  decodeCapture(bytes, o);
  o.end();
  const expected = naiveOrder(fileOrder(bytes));
  const at = (items: readonly Item[], type: string): number => items.findIndex((i) => i.type === type);
  assert.ok(at(expected, 'marker') < at(expected, 'frame'));
  assert.deepEqual(fc.c.items, expected);
  assert.equal(o.framesHeld, 0); // it went straight, after the marker was released before it
});
