// SNAPSHOT records from the program's threads (agent/src/snapshot.c: an allocating thread takes one when the
// service thread's is late), through the decoder, the seq orderer and the model: read as the service
// thread's are, each with the heap of the events before its seq, none late, whichever block reaches the
// file first.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeCapture } from '../capture/decoder.js';
import { CaptureWriter } from '../capture/encoder.js';
import { SeqOrderer } from '../capture/order.js';
import type { SnapshotRecord } from '../capture/records.js';
import { ModelBuilder } from './builder.js';

function snapshot(stream: number, seq: number, timeNs: number): SnapshotRecord {
  return { type: 'snapshot', stream, seq, timeNs, rss: 1, rssAnon: 0, rssFile: 0, rssShmem: 0, swap: undefined, heap: undefined, cgroupUsage: undefined, cgroupLimit: undefined };
}

test("a thread's snapshots read as the service thread's: in seq order, with the heap at their seq, none late", () => {
  const w = new CaptureWriter({ header: {} });
  w.meta(snapshot(0, 1, 1_000));
  // The service thread's next snapshot (seq 7) reaches the file before the blocks of the threads whose own
  // snapshots (seq 3 and 5) came before it: the service stream is flushed first.
  w.meta(snapshot(0, 7, 40_000_000));
  w.flush(0);
  w.alloc(1, 1, 0x1000, 100, 0, 0, 0);
  w.meta(snapshot(1, 3, 21_000_000)); // thread 1's, in its stream between its events
  w.alloc(1, 4, 0x2000, 1_000, 0, 0, 0);
  w.flush(1);
  w.alloc(2, 2, 0x3000, 10, 0, 0, 0);
  w.meta(snapshot(2, 5, 32_000_000)); // thread 2's
  w.alloc(2, 6, 0x4000, 10_000, 0, 0, 0);
  w.flush(2);
  w.barrier(8);
  const builder = new ModelBuilder();
  const orderer = new SeqOrderer(builder);
  decodeCapture(w.finish(), orderer);
  orderer.end();
  const model = builder.finish();
  const s = model.snapshots;
  assert.deepEqual([...s.seq], [1, 3, 5, 7]);
  assert.deepEqual([...s.timeNs], [1_000, 21_000_000, 32_000_000, 40_000_000]);
  // The heap when the replay reached each seq: events 1-2 before 3, 1-4 before 5, all before 7.
  assert.deepEqual([...s.heap], [0, 110, 1_110, 11_110]);
  assert.equal(model.anomalies.lateSnapshots, 0);
  assert.equal(model.anomalies.outOfOrder, 0);
});
