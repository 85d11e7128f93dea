// The records loop's rare branches, fed before V8 compiles the loop (decoder.ts, feedLoop()). A file of its own:
// V8's feedback is per function, not per decoder, so an earlier read in the process that took these branches
// would feed them and hide a decoder that does not.
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

test("the records loop's rare branches met first late in a read do not deoptimize it", () => {
  // On the 50 M-event captures of round twenty-eight the loop was compiled within the first payloads, and each
  // of these branches, first met after that, deoptimized it ("Insufficient type feedback") and it was compiled
  // again, OSR and whole: a FREE's negative slot delta, a FREE with a size, a seq delta (of two bytes), an
  // ALLOC cut by the file's end (its overrun). 12 compiles of recordsAt on threads' verdict.
  const status = optimizationStatus();
  const w = new CaptureWriter({ header: { ...TEST_HEADER, unknownFields: [] }, blockSize: 1024 });
  let seq = 0;
  // Consecutive seqs, addresses going up, FREEs without a size: none of the rare branches. The addresses past
  // 2^32 from the start, as a real heap's (small ones would make V8 take the address sums for small integers).
  const heap = 2 ** 40;
  for (let i = 0; i < 300_000; i++) {
    const addr = heap + i * 16;
    w.alloc(1, ++seq, addr, 32 + (i % 7), Allocator.Malloc, 0, 0);
    w.free(1, ++seq, addr, 0, Deallocator.Free);
  }
  w.flushAll();
  let allocs = 0;
  let frees = 0;
  // The sizes summed, not counted in a branch: the visitor's own first branch late would deopt the loop it is inlined in.
  let freed = 0;
  const d = new CaptureDecoder({
    alloc: () => void allocs++,
    free: (_s, _q, _a, size) => {
      frees++;
      freed += size;
    },
    meta: () => undefined,
  });
  d.feed(w.take());
  const proto = CaptureDecoder.prototype as unknown as Record<string, unknown>;
  assert.notEqual(status(proto['recordsAt']) & 16, 0, 'recordsAt was not optimized by the plain events');
  // Now the rare ones: addresses going down (negative slot deltas), FREEs with a size, seq gaps.
  const base = heap + 300_000 * 16;
  for (let i = 0; i < 50; i++) {
    const addr = base - i * 4096;
    seq += i % 5 === 0 ? 7 + (i % 3) * 200 : 1;
    w.alloc(1, seq, addr, 48, Allocator.Malloc, 0, 0);
    w.free(1, ++seq, addr, 48, Deallocator.Free);
  }
  w.flushAll();
  // Then a block cut inside its last ALLOC (the writer killed): the decoder stops at the cut.
  w.alloc(1, ++seq, base + 64, 16, Allocator.Malloc, 0, 0);
  w.alloc(1, seq + 1, base + 128, 16, Allocator.Malloc, 0, 0);
  w.flushAll();
  const tail = w.take();
  d.feed(tail.subarray(0, tail.length - 1));
  d.end();
  // One warning: the cut.
  assert.equal(d.warnings, 1);
  assert.equal(allocs, 300_000 + 50 + 1);
  assert.equal(frees, 300_000 + 50);
  assert.equal(freed, 50 * 48);
  assert.notEqual(status(proto['recordsAt']) & 16, 0, 'recordsAt was deoptimized by a rare branch');
});
