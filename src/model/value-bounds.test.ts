// The one rule for out-of-range values, at the model: a record holding a value no process can have is
// left out whole and counted, and everything else adds up as if it had never been there.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EMPTY_HEADER } from '../capture/header.js';
import type { CheckpointEntry, MetaRecord } from '../capture/records.js';
import { ModelBuilder } from './builder.js';
import { MAX_PROCESS_BYTES } from './value-bounds.js';

const MAX = Number.MAX_SAFE_INTEGER;

function builder(): ModelBuilder {
  const b = new ModelBuilder();
  b.header({ ...EMPTY_HEADER });
  b.meta({ type: 'thread', stream: 1, osTid: 100, pythonIdent: 1, name: 'MainThread', timeNs: 0 });
  return b;
}

test('allocations bigger than a process can map, or that would take the heap past it, are left out and counted', () => {
  const b = builder();
  b.alloc(1, 1, 0x1000, 100, 0, 0, 0);
  b.alloc(1, 2, 0x2000, MAX, 0, 0, 0);
  b.alloc(1, 3, 0x3000, MAX, 8, 0, 0);
  b.alloc(1, 4, 0x4000_0000, 2 ** 47, 8, 0, 0);
  b.alloc(1, 5, 0x1_0000_0000_0000, 2 ** 47 - 100, 8, 0, 0); // the heap is now exactly 2^48
  b.alloc(1, 6, 0x6000, 1, 0, 0, 0); // one byte more than a process can hold
  b.free(1, 7, 0x2000, 0, 0); // the free of a left-out allocation is a free of nothing
  const m = b.finish();
  assert.equal(m.allocations, 3);
  assert.equal(m.bytesAllocated, MAX_PROCESS_BYTES);
  assert.equal(m.maxHeap, MAX_PROCESS_BYTES);
  assert.equal(m.anomalies.impossibleValues, 3);
  assert.deepEqual(m.anomalies.firstImpossible, { record: 'alloc', field: 'size', value: MAX, bytes: true });
  assert.equal(m.anomalies.unknownFrees, 1);
});

test('an allocation at address 0 is impossible, and a free of 0 finds nothing (never a negative count)', () => {
  const b = builder();
  b.alloc(1, 1, 0, 32, 0, 0, 0);
  b.free(1, 2, 0, 0, 0);
  b.alloc(1, 3, 0x10, 8, 0, 0, 0);
  const m = b.finish();
  assert.equal(m.allocations, 1);
  assert.equal(m.endLiveCount, 1);
  assert.equal(m.anomalies.impossibleValues, 1);
  for (let s = 0; s < m.sites.size; s++) assert.ok(m.sites.columns.liveCount.array[s]! >= 0);
});

test('a snapshot with an impossible amount is left out; a cgroup limit no process can reach is no limit', () => {
  const b = builder();
  const snap = (seq: number, rss: number, cgroupLimit: number): MetaRecord => ({
    type: 'snapshot',
    stream: 0,
    seq,
    timeNs: seq * 1000,
    rss,
    rssAnon: 0,
    rssFile: 0,
    rssShmem: 0,
    swap: undefined,
    heap: undefined,
    cgroupUsage: 1,
    cgroupLimit,
  });
  b.meta(snap(1, 4096, MAX)); // cgroup v1 says 2^63 − 4096 for no limit; the format holds up to 2^53 − 1
  b.meta(snap(2, 2 ** 50, 1 << 30));
  const m = b.finish();
  assert.deepEqual(m.snapshots.rss, [4096]);
  assert.deepEqual(m.snapshots.cgroupLimit, [0]);
  assert.equal(m.anomalies.impossibleValues, 1);
  assert.equal(m.anomalies.firstImpossible?.field, 'rss');
});

test('checkpoint entries that cannot be (more live than made, more than a process holds, more events than seqs) are left out', () => {
  const b = builder();
  const entry = (stack: number, e: Partial<CheckpointEntry>): CheckpointEntry => ({
    stream: 1,
    stack,
    nativeStack: 0,
    allocator: 0,
    totalCount: 2,
    totalBytes: 64,
    liveCount: 1,
    liveBytes: 32,
    savedPeakCount: 0,
    savedPeakBytes: 0,
    updatedSeq: 1,
    ...e,
  });
  b.meta({
    type: 'checkpoint',
    stream: 0,
    seq: 10,
    timeNs: 10,
    heap: 32,
    peakHeap: 32,
    peakSeq: 1,
    entries: [
      entry(0, {}),
      entry(1, { liveCount: 5 }),
      entry(2, { liveBytes: 2 ** 49, totalBytes: 2 ** 50 }),
      entry(3, { totalCount: MAX - 10, liveCount: 0, liveBytes: 0 }),
      entry(4, { totalCount: 10, liveCount: 0, liveBytes: 0 }),
    ],
  });
  const m = b.finish();
  assert.equal(m.aggregated, true);
  // Entry 3 alone is possible; with entry 4 the locations would have made more allocations than there are seqs.
  assert.equal(m.allocations, MAX - 8);
  assert.ok(Number.isSafeInteger(m.allocations));
  assert.equal(m.endLiveCount, 1);
  assert.equal(m.anomalies.impossibleValues, 3);
});

test('code whose first line is past a C int is left out; ids past PID_MAX_LIMIT read as unknown', () => {
  const b = new ModelBuilder();
  b.header({ ...EMPTY_HEADER, pid: MAX, mainTid: 2 ** 40 });
  b.meta({ type: 'code', stream: 1, codeId: 1, name: 'f', qualname: 'f', filename: 'a.py', firstLineNo: 2 ** 31, linetableKind: 3, linetable: new Uint8Array(0) });
  b.meta({ type: 'exit', stream: 0xffffffff, timeNs: 0, exitCode: 256, signal: 0, oomKill: 0, detail: '' });
  const m = b.finish();
  assert.equal(m.header.pid, 0);
  assert.equal(m.header.mainTid, 0);
  assert.equal(m.exit, undefined);
  assert.equal(m.anomalies.impossibleValues, 4);
});
