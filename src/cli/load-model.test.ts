import assert from 'node:assert/strict';
import fs, { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { memoryIo } from '../../test/support/memory-io.js';
import { writeRealistic } from '../../test/support/synthetic.js';
import { FOLLOW_FAST_LEVEL, recompressCapture } from '../capture/compress.js';
import { decodeCapture } from '../capture/decoder.js';
import { concat } from '../capture/encoder.js';
import { loadModel } from './load-model.js';
import { collectionsForced } from '../util/outgrown.js';

const dir = mkdtempSync(join(tmpdir(), 'memlens-load-model-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** How loadModel reads `bytes` from a file: the length asked of each read, its model, and the decoder's counts. */
async function readAsLoadModel(bytes: Uint8Array, name: string): Promise<{ reads: number[]; allocations: number; allocs: number; longest: number }> {
  let allocs = 0;
  let longest = 0;
  decodeCapture(bytes, {
    block: (b) => {
      longest = Math.max(longest, b.storedLen);
    },
    alloc: () => {
      allocs++;
    },
    free: () => undefined,
    meta: () => undefined,
  });
  const path = join(dir, name);
  writeFileSync(path, bytes);
  // The capture is read with node:fs's read(fd, buffer, offset, length, position, callback) (capture-file.ts),
  // seen here through node:fs's exports, with the named imports synced to them.
  const real = fs.read;
  const reads: number[] = [];
  (fs as { read: unknown }).read = function (this: unknown, ...a: unknown[]) {
    reads.push(a[3] as number);
    return (real as (...b: unknown[]) => void).apply(this, a);
  };
  syncBuiltinESMExports();
  try {
    const model = await loadModel(memoryIo(), path);
    return { reads, allocations: model.allocations, allocs, longest };
  } finally {
    fs.read = real;
    syncBuiltinESMExports();
  }
}

test('loadModel reads the file 128 KiB at a time, blocks longer than that included, and misses no allocation', async () => {
  // The read buffer stays resident through the whole read, so its size is peak RSS: 1 MiB before, about
  // 1.1 MiB more peak for the reports of a 50 M-event capture (docs/benchmarks.md, "Report memory, round
  // seven"). A block longer than a read (a pack `memlens run` wrote before round fifteen, up to 1 MiB of
  // blocks compressed; a block written uncompressed) is gathered across reads by the framer. The packs of
  // today's writer (256 KiB of blocks, compressed: about 120 KiB) and blocks of 300 KiB stored as they are.
  const parts: Uint8Array[] = [];
  writeRealistic({ events: 2_000_000, threads: 2, seed: 5, sink: (b) => parts.push(b) });
  const packed = recompressCapture(concat(parts), { level: FOLLOW_FAST_LEVEL, packs: true });
  parts.length = 0;
  writeRealistic({ events: 300_000, threads: 2, seed: 6, blockSize: 300 << 10, sink: (b) => parts.push(b) });
  const long = concat(parts);
  parts.length = 0;
  for (const [name, bytes] of [
    ['packed.mlens', packed],
    ['long-blocks.mlens', long],
  ] as const) {
    const r = await readAsLoadModel(bytes, name);
    if (name === 'long-blocks.mlens') assert.ok(r.longest > 128 << 10, `the longest block is ${r.longest} bytes: none spans two reads`);
    assert.ok(r.reads.length > bytes.length / (128 << 10), `${name}: ${r.reads.length} reads of a ${bytes.length}-byte file`);
    assert.ok(Math.max(...r.reads) <= 128 << 10, `${name}: reads of up to ${Math.max(...r.reads)} bytes`);
    assert.equal(r.allocations, r.allocs, name);
  }
});

test("loadModel collects V8's old generation as it reads, not only at the end (heapGrowthCheck between chunks)", async () => {
  // The first check after a chunk always collects (util/outgrown.ts), then once the old generation grew by a
  // step; the end of the read collects once more. Counted by outgrown.ts itself: node's 'gc' performance
  // entries come late, and a read this small may promote less than a step.
  const parts: Uint8Array[] = [];
  writeRealistic({ events: 200_000, threads: 2, seed: 9, sink: (b) => parts.push(b) });
  const path = join(dir, 'majors.mlens');
  writeFileSync(path, concat(parts));
  const before = collectionsForced();
  await loadModel(memoryIo(), path);
  const made = collectionsForced() - before;
  assert.ok(made >= 2, `${made} full collections: at least one during the read and one after it`);
});
