// The replay's flush of held-back frees, fed before V8 compiles what inlines `heap` (HeapReplay.warmFlush()). A file
// of its own: V8's feedback and a field's constness are per class, not per replay, so an earlier replay in the
// process that held back a run of frees would feed them and hide a replay that does not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { HeapReplay } from './heap-replay.js';
import type { NativeNodeId1, PyNodeId1, ThreadIndex } from './ids.js';
import type { ReplayObserver } from './replay-observer.js';
import { SiteTable } from './site-table.js';

/** V8's %GetOptimizationStatus (16: the bit for optimized code); only source compiled after the flag can call it. */
function optimizationStatus(): (f: unknown) => number {
  setFlagsFromString('--allow-natives-syntax');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- %GetOptimizationStatus is the point
  return new Function('f', 'return %GetOptimizationStatus(f)') as (f: unknown) => number;
}

test("a replay's first run of held-back frees, and the first read of `heap` after it, do not deoptimize a loop that inlines `heap`", () => {
  const status = optimizationStatus();
  const sites = new SiteTable();
  const changes: number[] = [];
  const observer: ReplayObserver = { change: (_site, seq) => void changes.push(seq), snapshot: () => undefined };
  const replay = new HeapReplay(sites, { observer, temporaryThreshold: undefined, window: undefined });
  // Nothing of the warm-up's held free shows: no anomaly, no observer call, no heap.
  assert.deepEqual([replay.heap, replay.unknownFrees, replay.frees, replay.outOfOrder, replay.lastSeq, changes.length], [0, 0, 0, 0, 0, 0]);
  const site = sites.intern(1 as PyNodeId1, 0 as NativeNodeId1, 0 as ThreadIndex, 0);
  const heap = 2 ** 40;
  let seq = 0;
  let sum = 0;
  // As the builder's alloc() and freeAt() (inlined into the records loop): `heap` read at every event.
  const events = (from: number, to: number, free: boolean): void => {
    for (let i = from; i < to; i++) {
      sum += replay.heap;
      replay.eventAddress[0] = heap + i * 16;
      if (free) replay.freeAt(++seq, 0, 0);
      else replay.allocAt(site, 0 as ThreadIndex, ++seq, 32, 0);
    }
  };
  // Allocations and frees in turn, 1000 of each (no run held back: fewer than FREE_RUN, 4096), until the loop is optimized.
  let rounds = 0;
  for (; rounds < 400 && (status(events) & 16) === 0; rounds++) {
    events(rounds * 1000, rounds * 1000 + 1000, false);
    events(rounds * 1000, rounds * 1000 + 1000, true);
  }
  assert.notEqual(status(events) & 16, 0, 'the loop was not optimized by the events');
  // A run of 20,000 allocations, then of their 20,000 frees past FREE_RUN (4096): held back from the 4097th. The
  // frees not through the loop, so that it is not compiled again meanwhile (a deopt would show).
  events(1_000_000, 1_020_000, false);
  for (let i = 1_000_000; i < 1_020_000; i++) {
    replay.eventAddress[0] = heap + i * 16;
    replay.freeAt(++seq, 0, 0);
  }
  assert.notEqual(status(events) & 16, 0, "the loop was deoptimized by the run held back (the replay's fields it read as constants)");
  // The loop's next event reads `heap`, which flushes the frees still held.
  events(2_000_000, 2_000_001, false);
  assert.notEqual(status(events) & 16, 0, 'the loop was deoptimized by the flush in `heap` (its call without type feedback)');
  assert.equal(replay.heap, 32);
  const allocations = rounds * 1000 + 20_001;
  const frees = rounds * 1000 + 20_000;
  assert.deepEqual([replay.unknownFrees, replay.frees, replay.allocations, changes.length], [0, frees, allocations, allocations + frees]);
  assert.ok(sum > 0);
});
