// The whole reading pipeline (encoder → file → decoder → seq orderer → replay) against the oracle, on
// random multi-threaded streams written the way the agent writes them: each thread's records in its own
// blocks, flushed in rounds with barriers, so blocks of different threads are out of seq order in the file.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decodeCapture } from '../src/capture/decoder.js';
import { CaptureWriter } from '../src/capture/encoder.js';
import { ModelBuilder } from '../src/model/builder.js';
import { loadModel } from '../src/cli/load-model.js';
import type { CaptureModel } from '../src/model/model.js';
import { memoryIo } from './support/memory-io.js';
import { runOracle } from './support/model-oracle.js';
import { randomStream } from './support/random-stream.js';

const dir = mkdtempSync(join(tmpdir(), 'memlens-pipeline-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function writeLikeTheAgent(stream: ReturnType<typeof randomStream>, round: number): Uint8Array {
  const w = new CaptureWriter({ header: stream.header, blockSize: 256 });
  let events = 0;
  for (const c of stream.calls) {
    if (c.kind === 'meta') w.meta(c.record);
    else {
      if (c.kind === 'alloc') w.alloc(c.stream, c.seq, c.address, c.size, c.allocator, c.stack, c.native);
      else w.free(c.stream, c.seq, c.address, c.size, c.deallocator);
      if (++events % round === 0) w.barrier(c.seq + 1);
    }
  }
  return w.finish();
}

function totals(model: CaptureModel): { peak: number; end: number; allocations: number } {
  return { peak: model.peakHeap, end: model.endHeap, allocations: model.allocations };
}

for (const seed of [31, 32, 33, 34]) {
  test(`file written in flush rounds reads back to the oracle's answer (seed ${seed})`, async () => {
    const stream = randomStream(seed, { events: 2000, streams: 4 });
    const path = join(dir, `s${seed}.mlens`);
    const bytes = writeLikeTheAgent(stream, 40 + seed);
    writeFileSync(path, bytes);
    // Without the orderer the events are out of order: the test does exercise the ordering.
    const unordered = new ModelBuilder();
    decodeCapture(bytes, unordered);
    assert.ok(unordered.finish().anomalies.outOfOrder > 0);
    const model = await loadModel(memoryIo(), path, { temporaryThreshold: 1 });
    const oracle = runOracle(stream.calls, { temporaryThreshold: 1 });
    assert.equal(model.anomalies.outOfOrder, 0, 'the orderer delivered seq order');
    assert.deepEqual(totals(model), { peak: oracle.peakHeap, end: oracle.endHeap, allocations: oracle.allocations });
    let temp = 0;
    for (const v of oracle.sites.values()) temp += v.tempBytes;
    let modelTemp = 0;
    for (let s = 0; s < model.sites.size; s++) modelTemp += model.sites.columns.tempBytes.array[s] as number;
    assert.equal(modelTemp, temp);
    assert.deepEqual(model.snapshots.heap, oracle.snapshotHeaps);
  });
}
