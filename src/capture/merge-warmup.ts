// A first pass of the merger and the group coder over a small made-up sample, before the capture's own
// blocks: it gives V8 type feedback for every path of their loops, so that the optimized code V8 compiles
// later does not meet a path it has not seen and is not thrown away and compiled again.
//
// Why: `memlens run` runs node with --single-threaded, so TurboFan compiles on the main thread, 5-20 ms for
// each of transcode(), codeEvents() and the others (docs/benchmarks.md, "Cold cost, continued"). On a short
// capture these functions got hot on their common path (ALLOC and FREE one seq apart, addresses in slots)
// and were compiled for it; then the first seq delta of more than one, the first whole address, or the
// first varint of five bytes or more (its value past V8's small integers: "overflow") deoptimized them and
// they were compiled again: `node --trace-deopt` showed transcode compiled three times and codeEvents
// three times in one many_threads run. The sample has each of those at least once. It runs on a merger
// of its own (nothing of it is written); the cost is the sample's interpretation, well under a millisecond.
//
// Pure: no I/O; what it changes is V8's feedback, never an output.

import { CaptureWriter } from './encoder.js';
import { BLOCK_HEADER_LEN, BLOCK_KIND_RECORDS, STREAM_SERVICE } from './format.js';
import { BlockMerger, GROUPING } from './merge.js';

const warmed = new Set<string>();

/** One stream's block of the sample: events of every shape, and the records a group codes by field. */
function sampleBlock(stream: number, native: boolean, slotted: boolean): Uint8Array {
  const w = new CaptureWriter({ nativeStacks: native, slotAddresses: slotted, blockSize: 1 << 16 });
  const page = 0x7f3a12340000;
  let seq = stream * 10;
  const f1 = w.frame(stream, 0, 1, 2);
  w.frame(stream, f1, 3, 40);
  w.nativeFrame(stream, 0, 0x7f3a00001234);
  for (let k = 0; k < 24; k++) {
    // Seq one apart and further (up to 2^33: a five-byte delta), addresses in a slot's page, in another
    // page, and whole; stacks the same and changed; frees with and without a size.
    seq += k % 3 === 0 ? 1 : k % 3 === 1 ? 300 : 2 ** 33;
    const addr = k % 4 === 0 ? page + 16 * k : k % 4 === 1 ? page + 0x100000 * k : k % 4 === 2 ? 0x5612_0000_0000 + 8 * k : 1000 + k;
    w.alloc(stream, seq, addr, 16 + k, k % 3, k % 2 === 0 ? 1 : 2 + k, native ? k : 0);
    seq += 1;
    w.free(stream, seq, addr, k % 2 === 0 ? 0 : 16 + k, k % 3);
  }
  w.meta({ type: 'gc', stream, seq, timeNs: 2 ** 40, generation: 2, collected: 5, uncollectable: 0, durationNs: 1000, startSeq: seq - 3 });
  if (stream === STREAM_SERVICE) {
    const snap = { type: 'snapshot', stream, seq, timeNs: 2 ** 41, rss: 2 ** 25, rssAnon: 2 ** 24, rssFile: 2 ** 23, rssShmem: 0, swap: 0, heap: 2 ** 22, cgroupUsage: 0, cgroupLimit: 0 } as const;
    w.meta(snap);
    w.meta({ ...snap, seq: seq + 1, timeNs: 2 ** 41 + 10_000_000 });
    w.barrier(seq + 2);
    const entry = { stream: 1, stack: 2, nativeStack: 0, allocator: 1, totalCount: 3, totalBytes: 300, liveCount: 2, liveBytes: 200, savedPeakCount: 0, savedPeakBytes: 0, updatedSeq: seq };
    w.meta({ type: 'checkpoint', stream, seq: seq + 3, timeNs: 2 ** 41, heap: 200, peakHeap: 300, peakSeq: seq, entries: [entry] });
    w.meta({ type: 'checkpoint', stream, seq: seq + 4, timeNs: 2 ** 41 + 5, heap: 250, peakHeap: 300, peakSeq: seq, entries: [{ ...entry, liveBytes: 250, updatedSeq: seq + 4 }] });
  }
  w.flushAll();
  return w.take();
}

export interface WarmUp {
  /** Blocks of the sample the merger took, and refused (each refusal is a path left cold). */
  taken: number;
  refused: number;
  /** Blocks it wrote, by kind. */
  readonly kinds: number[];
}

/**
 * Runs a merger of its own over the sample, once per kind of capture (`native`, `slotted`, `groups`: written
 * as group blocks). Called before a Recompressor merges a capture's first block. Returns what it did, or
 * undefined when it ran before for this kind.
 */
export function warmMerger(native: boolean, slotted: boolean, groups: boolean): WarmUp | undefined {
  const key = `${native},${slotted},${groups}`;
  if (warmed.has(key)) return undefined;
  warmed.add(key);
  const done: WarmUp = { taken: 0, refused: 0, kinds: [] };
  const merger = new BlockMerger(native, (b) => done.kinds.push(b.kind), GROUPING, slotted, groups);
  for (const stream of [1, 2, STREAM_SERVICE]) {
    const bytes = sampleBlock(stream, native, slotted);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let at = 0; at < bytes.length;) {
      const stored = dv.getUint32(at + 8, true);
      const info = {
        offset: at,
        flags: 0,
        headerLen: BLOCK_HEADER_LEN,
        kind: BLOCK_KIND_RECORDS,
        storedLen: stored,
        rawLen: stored,
        stream,
        baseSeq: dv.getUint32(at + 24, true) + dv.getUint32(at + 28, true) * 2 ** 32,
      };
      const block = bytes.subarray(at, at + BLOCK_HEADER_LEN + stored);
      // Twice: the second time seq goes back, and the block starts a merged block of its own.
      for (let n = 0; n < 2; n++) {
        if (merger.add(info, block)) done.taken++;
        else done.refused++;
      }
      at += BLOCK_HEADER_LEN + stored;
    }
  }
  merger.flushAll(true);
  return done;
}
