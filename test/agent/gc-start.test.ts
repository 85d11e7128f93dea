// GC_START: the agent writes one when a collection starts, its seq the GC record's start_seq (but for a young
// collection that starts fewer than GC_START_GAP seqs after the previous GC record, on a build with the GIL),
// and the collector's frees (src/analysis/gc-frees.ts) come out the same from a ring that keeps only the frees
// between a GC_START and its GC record, and those of the window after each GC record, as from the ring of every
// free since the last collection. The header's options say GC_START records come (bit 32), so the ring keeps
// nothing before the first one either.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { loadModel } from '../../src/cli/load-model.js';
import { GC_RING_FIRST, GcFrees, type GcFreesResult } from '../../src/analysis/gc-frees.js';
import { gcReport } from '../../src/analysis/gc.js';
import { GC_START_GAP, GC_THIN_WINDOW, OPTION_GC_START } from '../../src/capture/format.js';
import { hasGcStartRecords } from '../../src/capture/header.js';
import type { ReplayObserver } from '../../src/model/replay-observer.js';
import { Oracle } from '../support/agent-oracle.js';
import { memoryIo } from '../support/memory-io.js';
import { memlensRun, tempDir } from '../support/memlens-run.js';
import { label, testPythons } from '../support/pythons.js';

const CYCLES = `import gc


class Node:
    def __init__(self):
        self.me = self
        self.data = [0] * 50


KEEP = []
gc.set_threshold(100)  # young collections a few hundred events apart (some without GC_START)
for _ in range(20000):  # automatic collections
    Node()
gc.disable()
for round in range(4):  # four of 3000 cycles
    for _ in range(3000):
        Node()
    KEEP.extend(bytes(100) for _ in range(2000))  # frees outside collections too
    del KEEP[:1000]
    gc.collect()
`;

/**
 * GcFrees as the replay's observer, told of GC_START records or not (a capture of an agent before them); never
 * of the header (round fifteen's reader, which did not know its bit).
 */
async function gcFrees(path: string, starts: boolean): Promise<GcFreesResult> {
  return (await gcFreesOf(path, starts)).result;
}

/** GcFrees as `memlens stats` has it: the replay's observer, told of the header and of GC_START records. */
async function honouredOf(path: string): Promise<{ result: GcFreesResult; g: GcFrees }> {
  const g = new GcFrees();
  await loadModel(memoryIo(), path, { observer: g });
  return { result: g.finish(), g };
}

async function gcFreesOf(path: string, starts: boolean): Promise<{ result: GcFreesResult; written: number }> {
  const g = new GcFrees();
  const observer: ReplayObserver = {
    indexesFrom: g.indexesFrom,
    change: (site, seq, bytes, count) => g.change(site, seq, bytes, count),
    snapshot: () => undefined,
    gc: (record) => g.gc(record),
    gcStart: (seq) => {
      if (starts) g.gcStart(seq);
    },
  };
  await loadModel(memoryIo(), path, { observer });
  return { result: g.finish(), written: g.written };
}

/** Frees before the first collection: many (the collector disabled), then a collection of 3000 cycles. */
const DISABLED = `import gc

gc.disable()


class Node:
    def __init__(self):
        self.me = self


for _ in range(150000):  # 300 000 frees, no collection
    x = [0] * 20
    del x
    s = str(_) * 3
    del s
for _ in range(3000):
    Node()
gc.collect()
`;

const bySiteOf = (m: GcFreesResult['bySite']): [number, number, number][] => [...m].map(([k, v]): [number, number, number] => [k, v.bytes, v.count]).sort((a, b) => a[0] - b[0]);

for (const py of testPythons()) {
  describe(`GC_START under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);

    test('a GC_START before each GC record but young ones close to the last, at its start_seq, and the same collector frees with and without them', async () => {
      const r = await memlensRun({ python: py.python, files: { 'cycles.py': CYCLES }, program: ['cycles.py'], output: 'cycles.mlens', runArgs: ['--trace-python-allocators'] }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      const gcs = o.records('gc');
      const starts = o.records('gc-start');
      assert.ok(gcs.filter((g) => g.generation === 2).length >= 4, 'the four gc.collect() calls');
      // Each GC_START's seq is the start_seq of a GC record of its stream; a GC record without one is a young
      // collection's, fewer than GC_START_GAP seqs after the previous GC record, on a build with the GIL.
      const startSeqs = new Set(starts.map((s) => `${s.stream}/${s.seq}`));
      const sorted = [...gcs].sort((a, b) => a.seq - b.seq);
      let thinned = 0;
      sorted.forEach((g, k) => {
        if (startSeqs.has(`${g.stream}/${g.startSeq}`)) return;
        thinned++;
        const prev = sorted[k - 1];
        assert.ok(!py.freeThreaded, `a GC record at ${g.seq} without its GC_START on a free-threaded build`);
        assert.equal(g.generation, 0, `the collection at ${g.seq} without its GC_START`);
        assert.ok(prev !== undefined && g.startSeq! - prev.seq < GC_START_GAP, `the collection at ${g.seq} without its GC_START, ${g.startSeq! - (prev?.seq ?? 0)} seqs after the last`);
      });
      assert.equal(starts.length, gcs.length - thinned, 'no GC_START without its collection');
      // 20 000 Nodes' automatic collections, at a threshold of 100, come a few hundred events apart: some go
      // without GC_START.
      if (!py.freeThreaded) assert.ok(thinned > 0, `${gcs.length} collections, all with a GC_START`);
      for (let k = 1; k < sorted.length; k++) assert.ok(sorted[k]!.startSeq! >= sorted[k - 1]!.seq, 'collections do not overlap');
      // No free of a collection comes before its GC_START's seq: the frees in [start_seq, seq) are after it;
      // those of a collection without one are in the window after the last GC record.
      const withStarts = (await honouredOf(r.capture)).result;
      const without = await gcFrees(r.capture, false);
      assert.deepEqual([...withStarts.seq], [...without.seq]);
      assert.deepEqual([...withStarts.bytes], [...without.bytes]);
      assert.deepEqual([...withStarts.count], [...without.count]);
      assert.equal(withStarts.incomplete, 0);
      assert.equal(without.incomplete, 0);
      assert.deepEqual(bySiteOf(withStarts.bySite), bySiteOf(without.bySite));
      // The collections freed the cycles: 3000 Nodes a round, each with its list (pymalloc, traced).
      const big = [...withStarts.count].filter((n) => n >= 3000).length;
      assert.ok(big >= 4, `${big} collections freed 3000 objects or more: ${[...withStarts.count].join(', ')}`);
      // Each collection's count is at most the frees the capture has in [start_seq, seq).
      const frees = o.frees.map((f) => f.seq).sort((a, b) => a - b);
      withStarts.seq.forEach((seq, k) => {
        const g = gcs.find((x) => x.seq === seq)!;
        const inside = frees.filter((s) => s >= g.startSeq! && s < seq).length;
        assert.ok(withStarts.count[k]! <= inside, `collection at ${seq}: ${withStarts.count[k]} of ${inside} frees`);
      });
    });

    test('the header says GC_START records come: the ring keeps none of the frees before the first collection, with the same GC report', async () => {
      const r = await memlensRun({ python: py.python, files: { 'disabled.py': DISABLED }, program: ['disabled.py'], output: 'disabled.mlens', runArgs: ['--trace-python-allocators'] }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      assert.ok(o.header !== undefined && (o.header.options & OPTION_GC_START) !== 0, `options ${o.header?.options}`);
      // As memlens stats reads it: GcFrees the observer, told of the header.
      const g = new GcFrees();
      const model = await loadModel(memoryIo(), r.capture, { observer: g });
      assert.ok(hasGcStartRecords(model.header));
      const honoured = g.finish();
      // Every collection here has its GC_START (after gc.disable() only gc.collect(): generation 2), so round
      // fifteen's reader reads it as this one does.
      assert.equal(o.records('gc-start').length, o.records('gc').length);
      const ignored = await gcFreesOf(r.capture, true); // round fifteen's reader: the ring kept every free until the first GC_START
      const old = await gcFreesOf(r.capture, false); // an older reader: every free since the last collection
      for (const other of [ignored.result, old.result]) {
        assert.deepEqual([...honoured.seq], [...other.seq]);
        assert.deepEqual([...honoured.bytes], [...other.bytes]);
        assert.deepEqual([...honoured.count], [...other.count]);
        assert.equal(honoured.incomplete, other.incomplete);
        assert.deepEqual(bySiteOf(honoured.bySite), bySiteOf(other.bySite));
      }
      assert.equal(honoured.incomplete, 0);
      // The GC report's figures: the same from each.
      const report = JSON.stringify(gcReport(model, honoured));
      assert.equal(JSON.stringify(gcReport(model, ignored.result)), report);
      assert.ok(Math.max(...honoured.count) >= 3000, `the collection of 3000 cycles: ${[...honoured.count].join(', ')}`);
      // The ring wrote the collections' frees and those of the window after a GC record only, and never grew
      // past what one collection needed.
      const kept = o.frees.filter((f) => o.records('gc').some((c) => (f.seq >= c.startSeq! && f.seq < c.seq) || (f.seq >= c.seq && f.seq < c.seq + GC_THIN_WINDOW))).length;
      assert.ok(g.written <= kept, `${g.written} written, ${kept} frees inside collections or their windows`);
      // Without the bit the ring kept every free before the first GC_START: the program's 300 000 when no
      // collection ran before them (on some interpreters memlens's start-up code makes one, 3.10 and 3.12 here).
      const firstStart = Math.min(...o.records('gc-start').map((x) => x.seq));
      const before = o.frees.filter((f) => f.seq < firstStart).length;
      if (before >= 300_000) assert.ok(ignored.written >= 300_000, `${ignored.written} written without the header's bit (${before} frees before the first GC_START)`);
      const len = (g as unknown as { len: number }).len;
      assert.ok(len <= Math.max(GC_RING_FIRST, 2 * Math.max(...honoured.count), 2 * GC_THIN_WINDOW), `the ring's length ${len}`);
    });
  });
}
