import assert from 'node:assert/strict';
import fs, { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { memoryIo } from '../../test/support/memory-io.js';
import { writeRealistic } from '../../test/support/synthetic.js';
import { FOLLOW_FAST_LEVEL, recompressCapture } from '../capture/compress.js';
import { decodeCapture } from '../capture/decoder.js';
import { concat } from '../capture/encoder.js';
import { loadModel } from './load-model.js';

const dir = mkdtempSync(join(tmpdir(), 'memlens-load-model-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('loadModel reads the file 128 KiB at a time, packs longer than that included, and misses no allocation', async () => {
  // The read buffer stays resident through the whole read, so its size is peak RSS: 1 MiB before, about
  // 1.1 MiB more peak for the reports of a 50 M-event capture (docs/benchmarks.md, "Report memory, round
  // seven"). The packs `memlens run` writes (1 MiB of blocks, compressed) are then longer than a read, and
  // the framer gathers them across reads.
  const parts: Uint8Array[] = [];
  writeRealistic({ events: 2_000_000, threads: 2, seed: 5, sink: (b) => parts.push(b) });
  const packed = recompressCapture(concat(parts), { level: FOLLOW_FAST_LEVEL, packs: true });
  parts.length = 0;
  let allocs = 0;
  let longest = 0;
  decodeCapture(packed, {
    block: (b) => {
      longest = Math.max(longest, b.storedLen);
    },
    alloc: () => {
      allocs++;
    },
    free: () => undefined,
    meta: () => undefined,
  });
  const path = join(dir, 'packed.mlens');
  writeFileSync(path, packed);

  // The capture is read with node:fs's read(fd, buffer, offset, length, position, callback) (capture-file.ts),
  // seen here through node:fs's exports, with the named imports synced to them.
  const real = fs.read;
  const reads: number[] = [];
  (fs as { read: unknown }).read = function (this: unknown, ...a: unknown[]) {
    reads.push(a[3] as number);
    return (real as (...b: unknown[]) => void).apply(this, a);
  };
  syncBuiltinESMExports();
  let model;
  try {
    model = await loadModel(memoryIo(), path);
  } finally {
    fs.read = real;
    syncBuiltinESMExports();
  }
  assert.ok(longest > 128 << 10, `the longest block is ${longest} bytes: none spans two reads`);
  assert.ok(reads.length > packed.length / (128 << 10), `${reads.length} reads of a ${packed.length}-byte file`);
  assert.ok(Math.max(...reads) <= 128 << 10, `reads of up to ${Math.max(...reads)} bytes`);
  assert.equal(model.allocations, allocs);
});

test("loadModel collects V8's old generation as it reads, not only at the end (heapGrowthCheck between chunks)", async () => {
  // The first check after a chunk always collects (util/outgrown.ts), then once the heap grew by a step; the
  // end of the read collects once more. Counted through node's 'gc' performance entries (kind: major).
  const parts: Uint8Array[] = [];
  writeRealistic({ events: 200_000, threads: 2, seed: 9, sink: (b) => parts.push(b) });
  const path = join(dir, 'majors.mlens');
  writeFileSync(path, concat(parts));
  const kinds: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) kinds.push((e as unknown as { detail: { kind: number } }).detail.kind);
  });
  observer.observe({ entryTypes: ['gc'] });
  try {
    await loadModel(memoryIo(), path);
    await new Promise((r) => setImmediate(r));
  } finally {
    observer.disconnect();
  }
  const majors = kinds.filter((k) => k === constants.NODE_PERFORMANCE_GC_MAJOR).length;
  assert.ok(majors >= 2, `${majors} full collections during the read and after it`);
});
