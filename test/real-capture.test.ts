// Captures of a known program made by the real agent (test/fixtures/programs/README.md) give the known
// answer: what was live at the peak and at the end, by stack, with line numbers from the line tables.

import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AllocationSet } from '../src/analysis/allocation-set.js';
import { highWaterMark } from '../src/analysis/high-water-mark.js';
import { leaks } from '../src/analysis/leaks.js';
import { locations } from '../src/analysis/locations.js';
import { stacksOf } from '../src/analysis/stacks.js';
import { main } from '../src/cli/main.js';
import { loadModel } from '../src/cli/load-model.js';
import { DEFAULT_FRAME_FILTER } from '../src/model/frames.js';
import type { CaptureModel } from '../src/model/model.js';
import { memoryIo } from './support/memory-io.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixture = (name: string): string => join(root, 'test', 'fixtures', 'captures', name);
const MiB = 1048576;

/** Own bytes per allocating line, for the lines that allocate at least 1 MiB. */
function bigOwners(model: CaptureModel, set: AllocationSet): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of locations(model, stacksOf(model, set, { filter: DEFAULT_FRAME_FILTER }))) {
    if (r.ownBytes >= MiB) out[`${r.function}:${r.line}`] = r.ownBytes;
  }
  return out;
}

for (const name of ['known-program.mlens', 'known-program-native.mlens']) {
  test(`${name}: the peak and the leaks of known_prog.py`, async () => {
    const model = await loadModel(memoryIo(), fixture(name));
    assert.equal(model.header.pythonVersion, '3.11.7');
    assert.equal(model.warnings.length, 0);
    const peak = highWaterMark(model);
    // bytearray(n) asks for n + 1 bytes.
    assert.deepEqual(bigOwners(model, peak), { 'parse:4': 12 * MiB + 2, 'worker:15': 3 * MiB + 1, 'cache:12': 2 * MiB + 1 });
    assert.ok(peak.heap >= 17 * MiB + 4 && peak.heap < 17 * MiB + 64 * 1024, `peak ${peak.heap}`);
    const end = leaks(model);
    assert.deepEqual(bigOwners(model, end), { 'worker:15': 3 * MiB + 1, 'cache:12': 2 * MiB + 1 });
    // The two parse() buffers are told apart by the line of load() that asked for them.
    const loadLines = locations(model, stacksOf(model, peak, { filter: DEFAULT_FRAME_FILTER }))
      .filter((r) => r.function === 'load')
      .map((r) => [r.line, r.totalBytes]);
    assert.deepEqual(loadLines.sort(), [
      [7, 8 * MiB + 1],
      [8, 4 * MiB + 1],
    ]);
    // The worker's buffer is on its own thread, under threading's Thread.run.
    const worker = model.threads.find((t) => t.name === 'worker');
    assert.ok(worker !== undefined);
  });
}

test('memlens summary and tree on the real capture', async () => {
  const io = memoryIo({ columns: 100 });
  assert.equal(await main(['tree', fixture('known-program.mlens'), '-n', '3'], io), 0);
  const out = io.out();
  assert.match(out, /^├─ 12\.0 MiB \d+\.\d+% {2}<module> at known_prog\.py:18$/m);
  assert.match(out, /^│ {2}├─ 8\.00 MiB \d+\.\d+% {2}load at known_prog\.py:7$/m);
  assert.match(out, /^└─ 3\.00 MiB \d+\.\d+% {2}Thread\.run at .*threading\.py:\d+$/m);
  assert.match(out, /^ {3}└─ 3\.00 MiB \d+\.\d+% {2}worker at known_prog\.py:15 {2}\(own 3\.00 MiB, 1 allocation\)$/m);
});

test('stacksOf: a stack per distinct shown stack, its frames by `frames` and by `walk` the same, its methods shared (no closure per stack)', async () => {
  const model = await loadModel(memoryIo(), fixture('known-program.mlens'));
  const stacks = stacksOf(model, highWaterMark(model), { filter: DEFAULT_FRAME_FILTER });
  assert.ok(stacks.length >= 3, `${stacks.length} stacks`);
  const seen = new Set<string>();
  for (const st of stacks) {
    const frames = st.frames;
    const walked: number[] = [];
    st.walk((id) => {
      walked.push(id);
    });
    assert.deepEqual(walked.reverse(), frames);
    assert.equal(st.leaf, frames.at(-1));
    const key = frames.join(',');
    assert.ok(!seen.has(key), `stack ${key} twice`);
    seen.add(key);
  }
  // One object per distinct stack on a capture of ~660 k of them: its methods must come from a shared prototype,
  // not be made anew per stack (docs/benchmarks.md, round seventeen, call_sites).
  const [a, b] = stacks;
  assert.equal(Object.getPrototypeOf(a), Object.getPrototypeOf(b));
  for (const own of ['walk', 'frames']) assert.equal(Object.hasOwn(a!, own), false, own);
});
