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
import type { ReplayObserver } from './replay-observer.js';

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

test('snapshots of one seq are in time order, whichever block came first (the series never goes back in time)', () => {
  // A snapshot's seq is the next event's: the session start's (service stream, seq 2) and a thread's first
  // (its own stream, seq 2 as well, 3 ms later) share one. The thread's block reaches the file first, so the
  // orderer (ties in file order) hands the later one over first; then a third of the same seq, later still.
  const w = new CaptureWriter({ header: {} });
  w.alloc(1, 1, 0x1000, 100, 0, 0, 0);
  w.meta(snapshot(1, 2, 5_000_000)); // the thread's, taken 5 ms in
  w.alloc(1, 2, 0x2000, 1_000, 0, 0, 0);
  w.flush(1);
  w.meta(snapshot(0, 2, 2_000_000)); // the start's, taken 2 ms in
  w.meta(snapshot(0, 2, 6_000_000));
  w.meta(snapshot(0, 3, 7_000_000));
  w.flush(0);
  w.alloc(2, 3, 0x3000, 10, 0, 0, 0);
  w.flush(2);
  w.barrier(4);
  const heard: [number, number][] = [];
  const observer: ReplayObserver = { change: () => undefined, snapshot: (seq, timeNs) => heard.push([seq, timeNs]) };
  const builder = new ModelBuilder({ observer });
  const orderer = new SeqOrderer(builder);
  decodeCapture(w.finish(), orderer);
  orderer.end();
  const model = builder.finish();
  const s = model.snapshots;
  assert.deepEqual([...s.seq], [2, 2, 2, 3]);
  assert.deepEqual([...s.timeNs], [2_000_000, 5_000_000, 6_000_000, 7_000_000]);
  // Each with the heap at its seq (the event of seq 1 before 2; 1 and 2 before 3), none late.
  assert.deepEqual([...s.heap], [100, 100, 100, 1_100]);
  assert.equal(model.anomalies.lateSnapshots, 0);
  // The observer hears them in the same order.
  assert.deepEqual(heard, [
    [2, 2_000_000],
    [2, 5_000_000],
    [2, 6_000_000],
    [3, 7_000_000],
  ]);
});
