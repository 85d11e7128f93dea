// The seq delta's call site in the records loop, fed before V8 compiles the loop (decoder.ts, feedSeqDelta()).
// A file of its own: V8's feedback is per function, not per decoder, so any earlier read in the process with
// a seq delta (every capture of more than one thread) would feed the call site and hide a decoder that does not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { TEST_HEADER } from '../../test/support/synthetic.js';
import { CaptureDecoder } from './decoder.js';
import { CaptureWriter } from './encoder.js';
import { Allocator, Deallocator } from './format.js';

/** V8's %GetOptimizationStatus (16: the bit for optimized code); only source compiled after the flag can call it. */
function optimizationStatus(): (f: unknown) => number {
  setFlagsFromString('--allow-natives-syntax');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- %GetOptimizationStatus is the point
  return new Function('f', 'return %GetOptimizationStatus(f)') as (f: unknown) => number;
}

test('a capture whose first seq delta comes late does not deoptimize the records loop there', () => {
  // One thread's events have consecutive seqs (the q bit) until another thread's come between them: on the
  // 50 M-event capture of bench/workload.py the first delta came 82 % into the read, when the records loop had
  // long been compiled without the call that reads it. V8 deoptimized recordsAt() there and compiled it again
  // (OSR and whole, 13-14 ms each), on top of the read's largest moment (docs/benchmarks.md, "stats' peak,
  // round sixteen"). The decoder feeds that call site once, early in the read.
  const status = optimizationStatus();
  const w = new CaptureWriter({ header: { ...TEST_HEADER, unknownFields: [] }, blockSize: 1024 });
  let seq = 0;
  const events = (n: number, gap: number): void => {
    for (let i = 0; i < n; i++) {
      const addr = 0x10000 + (i % 64) * 64;
      // A block starts at its first event's seq − 1: the gap comes inside one.
      seq += i === 10 ? gap : 1;
      w.alloc(1, seq, addr, 32 + (i % 7), Allocator.Malloc, 0, 0);
      w.free(1, ++seq, addr, 0, Deallocator.Free);
    }
    w.flushAll();
  };
  events(300_000, 1);
  let allocs = 0;
  const d = new CaptureDecoder({ alloc: () => void allocs++, free: () => undefined, meta: () => undefined });
  d.feed(w.take());
  const proto = CaptureDecoder.prototype as unknown as Record<string, unknown>;
  // 16: V8's OptimizationStatus bit for optimized code.
  assert.notEqual(status(proto['recordsAt']) & 16, 0, 'recordsAt was not optimized by the consecutive seqs');
  // A seq delta at last: an event 5 past the one before it, in the block's middle.
  events(50, 5);
  d.feed(w.take());
  d.end();
  assert.equal(d.warnings, 0);
  assert.equal(allocs, 300_050);
  assert.notEqual(status(proto['recordsAt']) & 16, 0, 'recordsAt was deoptimized by the first seq delta');
});
