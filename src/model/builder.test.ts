// Property tests: the one-pass replay against the slow oracle (test/support/model-oracle.ts) on random streams.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runOracle } from '../../test/support/model-oracle.js';
import { randomStream, replay } from '../../test/support/random-stream.js';
import { ModelBuilder } from './builder.js';
import { eventAddress } from '../capture/records.js';
import { sizeBucket } from './heap-replay.js';
import { NO_NATIVE_NODE, type PyNodeId1, type SiteId } from './ids.js';
import type { SiteTable } from './site-table.js';
import type { ReplayContext, ReplayObserver } from './replay-observer.js';
import { collectNow } from '../util/outgrown.js';
import { lineTableResolver } from './lines.js';
import type { LineResolver } from './stack-resolver.js';
import type { CaptureModel } from './model.js';

// Line = instruction offset, so a frame's (function, line) says which (code, instr) it came from.
const instrAsLine: LineResolver = (_code, instr) => instr;
const SHOW_ALL = { showInternal: true, showImports: true };
const site = (n: number): SiteId => n as SiteId;

function siteKeyOf(model: CaptureModel, site: SiteId): string {
  const thread = model.threads[model.sites.thread(site)];
  assert.ok(thread !== undefined);
  const frames = model.frames.stack(model.sites.pyStack(site), NO_NATIVE_NODE, SHOW_ALL);
  const chain = frames.map((id) => {
    const f = model.frames.frame(id);
    return `>${f.function}:${f.line}`;
  });
  return `${thread.stream}|${model.sites.allocator(site)}|${chain.join('')}`;
}

function perSite(
  model: CaptureModel,
  bytesCol: 'peakBytes' | 'liveBytes' | 'totalBytes' | 'tempBytes',
  countCol: 'peakCount' | 'liveCount' | 'totalCount' | 'tempCount',
): Map<string, { bytes: number; count: number }> {
  const out = new Map<string, { bytes: number; count: number }>();
  const peak = model.sites.peak;
  for (let s = 0 as SiteId; s < model.sites.size; s++) {
    // The values at the peak are not columns (site-peaks.ts).
    const bytes = bytesCol === 'peakBytes' ? peak.bytes(s) : model.sites.columns[bytesCol].array[s]!;
    const count = countCol === 'peakCount' ? peak.count(s) : model.sites.columns[countCol].array[s]!;
    if (bytes === 0 && count === 0) continue;
    const key = siteKeyOf(model, s);
    const e = out.get(key) ?? { bytes: 0, count: 0 };
    e.bytes += bytes;
    e.count += count;
    out.set(key, e);
  }
  return out;
}

function nonZero(m: Map<string, { bytes: number; count: number }>): Map<string, { bytes: number; count: number }> {
  return new Map([...m].filter(([, v]) => v.bytes !== 0 || v.count !== 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function sorted(m: Map<string, { bytes: number; count: number }>): Map<string, { bytes: number; count: number }> {
  return nonZero(m);
}

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) {
  test(`replay matches the oracle on random stream ${seed}`, () => {
    const stream = randomStream(seed, { events: 1500, mmapShare: seed % 3 === 0 ? 0.3 : 0.1 });
    const builder = new ModelBuilder({ lineResolver: instrAsLine, temporaryThreshold: seed % 4 });
    replay(stream, builder);
    const model = builder.finish();
    const oracle = runOracle(stream.calls, { temporaryThreshold: seed % 4 });

    assert.equal(model.allocations, oracle.allocations, 'allocations');
    assert.equal(model.maxHeap, oracle.maxHeap, 'max heap');
    assert.equal(model.peakHeap, oracle.peakHeap, 'peak heap');
    assert.equal(model.endHeap, oracle.endHeap, 'end heap');
    assert.deepEqual(sorted(perSite(model, 'peakBytes', 'peakCount')), sorted(oracle.peak), 'per-site values at the peak');
    const o = (
      f: (s: { liveBytes: number; liveCount: number; totalBytes: number; totalCount: number; tempBytes: number; tempCount: number }) => { bytes: number; count: number },
    ): Map<string, { bytes: number; count: number }> => sorted(new Map([...oracle.sites].map(([k, v]) => [k, f(v)])));
    assert.deepEqual(
      sorted(perSite(model, 'liveBytes', 'liveCount')),
      o((v) => ({ bytes: v.liveBytes, count: v.liveCount })),
      'leaks',
    );
    assert.deepEqual(
      sorted(perSite(model, 'totalBytes', 'totalCount')),
      o((v) => ({ bytes: v.totalBytes, count: v.totalCount })),
      'totals',
    );
    assert.deepEqual(
      sorted(perSite(model, 'tempBytes', 'tempCount')),
      o((v) => ({ bytes: v.tempBytes, count: v.tempCount })),
      'temporary',
    );
    assert.deepEqual(model.snapshots.heap, oracle.snapshotHeaps, 'heap at each snapshot');
    // The peak is where the per-site values say it is.
    let sum = 0;
    for (let s = 0 as SiteId; s < model.sites.size; s++) sum += model.sites.peak.bytes(s);
    assert.equal(sum, model.peakHeap);
  });
}

for (const seed of [21, 22, 23, 24, 25, 26]) {
  test(`the peak inside a seq window matches the oracle (stream ${seed})`, () => {
    const stream = randomStream(seed, { events: 1200 });
    const fromSeq = 100 + seed * 20;
    const toSeq = fromSeq + 150 + seed * 10;
    const builder = new ModelBuilder({ lineResolver: instrAsLine, window: { fromSeq, toSeq } });
    replay(stream, builder);
    const model = builder.finish();
    const oracle = runOracle(stream.calls, { fromSeq, toSeq });
    assert.equal(model.peakHeap, oracle.peakHeap);
    assert.deepEqual(sorted(perSite(model, 'peakBytes', 'peakCount')), sorted(oracle.peak));
    assert.ok(model.peakSeq === 0 || (model.peakSeq >= fromSeq - 1 && model.peakSeq < toSeq));
  });
}

test('the same stack from two threads is one stack node; the thread is kept in the site', () => {
  const stream = randomStream(99, { events: 0, streams: 2, codes: 1 });
  const b = new ModelBuilder({ lineResolver: instrAsLine });
  replay(stream, b);
  for (const s of [1, 2]) b.meta({ type: 'frame', stream: s, id: 10, parent: 0, codeId: 1, instr: 4 });
  b.alloc(1, 1, 0x1000, 10, 0, 10, 0);
  b.alloc(2, 2, 0x2000, 20, 0, 10, 0);
  const m = b.finish();
  assert.equal(m.sites.size, 2);
  assert.equal(m.sites.pyStack(site(0)), m.sites.pyStack(site(1)));
  assert.notEqual(m.sites.thread(site(0)), m.sites.thread(site(1)));
});

test('CODE records that arrive after the FRAME that uses them still name the frame', () => {
  const b = new ModelBuilder();
  b.meta({ type: 'frame', stream: 1, id: 1, parent: 0, codeId: 7, instr: 0 });
  b.alloc(1, 1, 0x1000, 10, 0, 1, 0);
  b.meta({ type: 'code', stream: 2, codeId: 7, name: 'load', qualname: 'Loader.load', filename: '/srv/app/loader.py', firstLineNo: 12, linetableKind: 3, linetable: new Uint8Array(0) });
  const m = b.finish();
  const f = m.frames.frame(m.frames.stack(m.sites.pyStack(site(0)), NO_NATIVE_NODE, SHOW_ALL)[0]!);
  assert.equal(f.function, 'Loader.load');
  assert.equal(f.file, '/srv/app/loader.py');
  assert.equal(f.line, 12);
});

test('a line table of an unknown kind shows the first line and is counted; any other error is not swallowed', () => {
  const b = new ModelBuilder({ lineResolver: lineTableResolver() });
  b.meta({ type: 'code', stream: 1, codeId: 7, name: 'load', qualname: 'load', filename: '/srv/app/loader.py', firstLineNo: 12, linetableKind: 99, linetable: new Uint8Array(4) });
  b.meta({ type: 'frame', stream: 1, id: 1, parent: 0, codeId: 7, instr: 0 });
  b.meta({ type: 'frame', stream: 1, id: 2, parent: 1, codeId: 7, instr: 8 });
  b.alloc(1, 1, 0x1000, 10, 0, 2, 0);
  const m = b.finish();
  const lines = m.frames.stack(m.sites.pyStack(site(0)), NO_NATIVE_NODE, SHOW_ALL).map((id) => m.frames.frame(id).line);
  assert.deepEqual(lines, [12, 12]);
  assert.equal(m.anomalies.unreadableLineTables, 1, 'one code object, however many nodes');

  const broken = new ModelBuilder({
    lineResolver: () => {
      throw new TypeError('a bug in a line resolver');
    },
  });
  broken.meta({ type: 'code', stream: 1, codeId: 7, name: 'load', qualname: 'load', filename: '/srv/app/loader.py', firstLineNo: 12, linetableKind: 3, linetable: new Uint8Array(0) });
  broken.meta({ type: 'frame', stream: 1, id: 1, parent: 0, codeId: 7, instr: 0 });
  assert.throws(() => broken.finish(), TypeError);
});

test('a partial munmap frees only its part; the mapping counts as live until its last page goes', () => {
  const b = new ModelBuilder();
  b.alloc(1, 1, 0x10000, 5 * 4096, 8, 0, 0);
  b.free(1, 2, 0x11000, 4096, 1); // a hole: two pieces remain
  let m: CaptureModel;
  b.free(1, 3, 0x10000, 4096, 1);
  b.free(1, 4, 0x12000, 2 * 4096, 1);
  m = b.finish();
  assert.equal(m.endHeap, 4096);
  assert.equal(m.endLiveCount, 1);
  assert.equal(m.peakHeap, 5 * 4096);
  const b2 = new ModelBuilder();
  b2.alloc(1, 1, 0x10000, 2 * 4096, 8, 0, 0);
  b2.alloc(1, 2, 0x20000, 2 * 4096, 8, 0, 0);
  b2.free(1, 3, 0x11000, 0x10000, 1); // one munmap over the tail of one mapping and the head of the next
  m = b2.finish();
  assert.equal(m.endHeap, 4096 + 4096);
  assert.equal(m.endLiveCount, 2);
});

test('PyTraceMalloc_Track of a malloc buffer is not counted twice; anomalies are counted', () => {
  const b = new ModelBuilder();
  b.alloc(1, 1, 0x1000, 800, 0, 0, 0);
  b.alloc(1, 2, 0x1000, 800, 12, 0, 0); // numpy tracks what malloc already showed
  b.free(1, 3, 0x1000, 0, 3);
  b.free(1, 4, 0x5000, 0, 0); // never allocated
  b.alloc(1, 5, 0x2000, 10, 0, 0, 0);
  b.alloc(1, 6, 0x2000, 30, 0, 0, 0); // the free of 0x2000 was missed
  const m = b.finish();
  assert.equal(m.anomalies.duplicateTracks, 1);
  assert.equal(m.anomalies.unknownFrees, 1);
  assert.equal(m.anomalies.missedFrees, 1);
  assert.equal(m.endHeap, 830);
  assert.equal(m.allocations, 3);
});

test('tracked buffers that malloc did not show are kept and untracked at their own addresses', () => {
  // allocOther() and freeOther() read the event's address from the replay's eventAddress, as allocAt() and
  // freeAt() do (an argument was boxed: a heap number per TRACK or UNTRACK): each TRACK and UNTRACK here is
  // at another address than the event before it.
  const b = new ModelBuilder();
  b.alloc(1, 1, 0x7f0000001000, 4096, 12, 0, 0);
  b.alloc(1, 2, 0x1000, 100, 0, 0, 0);
  b.alloc(1, 3, 0x7f0000100000, 8192, 12, 0, 0);
  b.alloc(1, 4, 0x7f0000001000, 4096, 12, 0, 0); // tracked twice: its untrack was missed
  b.free(1, 5, 0x7f0000200000, 0, 3); // never tracked: not an anomaly
  b.free(1, 6, 0x7f0000100000, 0, 3);
  const m = b.finish();
  assert.equal(m.anomalies.missedFrees, 1);
  assert.equal(m.anomalies.unknownFrees, 0);
  assert.equal(m.anomalies.duplicateTracks, 0);
  assert.equal(m.endHeap, 4096 + 100);
  assert.equal(m.endLiveCount, 2);
  assert.equal(m.allocations, 4);
});

test('size buckets are powers of two', () => {
  assert.equal(sizeBucket(0), 0);
  assert.equal(sizeBucket(1), 1);
  assert.equal(sizeBucket(2), 2);
  assert.equal(sizeBucket(3), 2);
  assert.equal(sizeBucket(4), 3);
  assert.equal(sizeBucket(2 ** 32 - 1), 32);
  assert.equal(sizeBucket(2 ** 32), 33);
  assert.equal(sizeBucket(2 ** 40 + 5), 41);
});

test('an observer that outlives the replay does not keep the builder (and its tables) alive', async () => {
  // The forensic observer is read after the replay (forensics.finish()); what it was given at begin()
  // kept the builder, and so the live table, alive while a report was written.
  let context: ReplayContext | undefined;
  const observer: ReplayObserver = {
    begin: (c) => {
      context = c;
    },
    change: () => {},
    snapshot: () => {},
  };
  const ref = ((): WeakRef<ModelBuilder> => new WeakRef(new ModelBuilder({ observer })))();
  await new Promise((resolve) => setImmediate(resolve)); // a WeakRef holds its target until the job ends
  collectNow();
  assert.equal(ref.deref(), undefined);
  assert.equal(context?.pyParent(0 as PyNodeId1), 0);
});

test("freeAt() replays as free() does, with the address taken from eventAddress (the orderer's call)", () => {
  for (const seed of [1, 2, 3]) {
    const stream = randomStream(seed, { events: 1500, mmapShare: 0.1 });
    const plain = new ModelBuilder({ lineResolver: instrAsLine, temporaryThreshold: 1 });
    replay(stream, plain);
    const at = new ModelBuilder({ lineResolver: instrAsLine, temporaryThreshold: 1 });
    let frees = 0;
    replay(stream, {
      header: (h) => at.header(h),
      alloc: (...a) => at.alloc(...a),
      free: (s, seq, address, size, deallocator) => {
        frees++;
        eventAddress[0] = address;
        at.freeAt(s, seq, size, deallocator);
      },
      meta: (r) => at.meta(r),
    });
    assert.ok(frees > 300, `${frees} frees`);
    const a = plain.finish();
    const b = at.finish();
    for (const k of ['allocations', 'frees', 'maxHeap', 'peakHeap', 'endHeap', 'endLiveCount'] as const) {
      assert.equal(b[k], a[k], `seed ${seed}: ${k}`);
    }
  }
});

test('the site table has the room the builder is told of, and the same model as without it', () => {
  // load-model.ts tells it from the file's size (siteCapacityFor): call_sites' columns no longer double (docs/benchmarks.md, round twenty-one).
  const stream = randomStream(7, { events: 1500 });
  const roomy = new ModelBuilder({ lineResolver: instrAsLine, siteCapacity: 100_000 });
  const plain = new ModelBuilder({ lineResolver: instrAsLine });
  replay(stream, roomy);
  replay(stream, plain);
  const a = roomy.finish();
  const b = plain.finish();
  // The table doubles from 4096 sites up to ROOM_FROM_SITES (site-table.test.ts): these few sites are in 4096 either way.
  assert.deepEqual([(a.sites as SiteTable).room, (b.sites as SiteTable).room], [131_072, 4096]);
  assert.equal(a.sites.size, b.sites.size);
  for (const col of ['totalBytes', 'totalCount', 'liveBytes'] as const) {
    assert.deepEqual(a.sites.columns[col].array.slice(0, a.sites.size), b.sites.columns[col].array.slice(0, b.sites.size), col);
  }
  assert.deepEqual(a.sites.peak.nonzero(a.sites.size), b.sites.peak.nonzero(b.sites.size));
});

test('finish() gives up what only the read needs (the site index), current() does not; the model is the same', () => {
  // The site table's index and the resolver's node index go before the model's frames are made
  // (docs/benchmarks.md, round twenty-three): call_sites' reports peak after the read.
  const stream = randomStream(11, { events: 1500 });
  const b = new ModelBuilder({ lineResolver: instrAsLine });
  replay(stream, b);
  const mid = b.current();
  const sites = mid.sites as SiteTable;
  const held = sites.byteLength;
  const sameAsMid = perSite(mid, 'totalBytes', 'totalCount');
  const m = b.finish();
  assert.equal(m.sites, mid.sites);
  assert.ok(m.sites.byteLength < held);
  assert.deepEqual(perSite(m, 'totalBytes', 'totalCount'), sameAsMid);
  const again = new ModelBuilder({ lineResolver: instrAsLine });
  replay(stream, again);
  const whole = again.finish();
  for (const [bytes, count] of [
    ['peakBytes', 'peakCount'],
    ['liveBytes', 'liveCount'],
  ] as const) {
    assert.deepEqual(perSite(m, bytes, count), perSite(whole, bytes, count), bytes);
  }
});

test("finish() gives up the replay's live tables once the totals are made, and the model is the same", () => {
  const stream = randomStream(11, { events: 20_000 });
  const a = new ModelBuilder({ lineResolver: (_code, instr) => instr });
  replay(stream, a);
  const before = a.current();
  const figures = (m: CaptureModel): unknown[] => [m.endHeap, m.endLiveCount, m.maxHeap, m.allocations, m.frees, Array.from(m.sites.columns.liveBytes.array).slice(0, m.sites.size)];
  const want = figures(before);
  const live = (b: ModelBuilder): { byteLength: number; size: number }[] => {
    const r = (b as unknown as { replay: { live: { byteLength: number; size: number }; tracked: { byteLength: number; size: number } } }).replay;
    return [r.live, r.tracked];
  };
  assert.ok(live(a)[0]!.size > 0, 'allocations live at the end');
  const model = a.finish();
  assert.deepEqual(figures(model), want);
  for (const t of live(a)) {
    assert.equal(t.size, 0);
    assert.ok(t.byteLength <= 16 * 16, `${t.byteLength}`);
  }
});
