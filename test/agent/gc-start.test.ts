// GC_START: the agent writes one when a collection starts, its seq the GC record's start_seq, and the
// collector's frees (src/analysis/gc-frees.ts) come out the same from a ring that keeps only the frees
// between a GC_START and its GC record as from the ring of every free since the last collection.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { loadModel } from '../../src/cli/load-model.js';
import { GcFrees, type GcFreesResult } from '../../src/analysis/gc-frees.js';
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

/** GcFrees as the replay's observer, told of GC_START records or not (a capture of an agent before them). */
async function gcFrees(path: string, starts: boolean): Promise<GcFreesResult> {
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
  return g.finish();
}

for (const py of testPythons()) {
  describe(`GC_START under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);

    test('a GC_START before each GC record, at its start_seq, and the same collector frees with and without them', async () => {
      const r = await memlensRun({ python: py.python, files: { 'cycles.py': CYCLES }, program: ['cycles.py'], output: 'cycles.mlens', runArgs: ['--trace-python-allocators'] }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      const gcs = o.records('gc');
      const starts = o.records('gc-start');
      assert.ok(gcs.filter((g) => g.generation === 2).length >= 4, 'the four gc.collect() calls');
      // Each GC record's start_seq is the seq of a GC_START of its stream, and collections do not overlap.
      const startSeqs = new Set(starts.map((s) => `${s.stream}/${s.seq}`));
      for (const g of gcs) assert.ok(startSeqs.has(`${g.stream}/${g.startSeq}`), `a GC_START at ${g.startSeq} for the GC record at ${g.seq}`);
      assert.equal(starts.length, gcs.length, 'one GC_START per collection');
      const sorted = [...gcs].sort((a, b) => a.seq - b.seq);
      for (let k = 1; k < sorted.length; k++) assert.ok(sorted[k]!.startSeq! >= sorted[k - 1]!.seq, 'collections do not overlap');
      // No free of a collection comes before its GC_START's seq: the frees in [start_seq, seq) are after it.
      const withStarts = await gcFrees(r.capture, true);
      const without = await gcFrees(r.capture, false);
      assert.deepEqual([...withStarts.seq], [...without.seq]);
      assert.deepEqual([...withStarts.bytes], [...without.bytes]);
      assert.deepEqual([...withStarts.count], [...without.count]);
      assert.equal(withStarts.incomplete, 0);
      assert.equal(without.incomplete, 0);
      const bySite = (m: GcFreesResult['bySite']): [number, number, number][] => [...m].map(([k, v]): [number, number, number] => [k, v.bytes, v.count]).sort((a, b) => a[0] - b[0]);
      assert.deepEqual(bySite(withStarts.bySite), bySite(without.bySite));
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
  });
}
