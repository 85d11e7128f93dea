import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  COLLECT_FROM_BYTES,
  GROWTH_CHECK_UP_TO,
  GROWTH_RSS_SHARE,
  GROWTH_STEP_BYTES,
  GROWTH_WIDE_FROM,
  GROWTH_WIDE_SHARE,
  collectNow,
  collectionsForced,
  heapGrowthCheck,
  oldGenerationBytes,
  outgrown,
} from './outgrown.js';

test('outgrown arrays are given back once enough bytes were outgrown, and the flags are as before', () => {
  const before = process.execArgv.join(' ');
  // An array big enough to be seen in external memory, outgrown and dropped (made in a frame of its own,
  // which has returned when outgrown() runs, as LiveTable's grow() has).
  const made = (): number => new Float64Array(COLLECT_FROM_BYTES / 8).fill(1).byteLength;
  const bytes = made();
  const kept = process.memoryUsage().arrayBuffers;
  assert.ok(kept >= COLLECT_FROM_BYTES);
  outgrown(bytes);
  assert.ok(process.memoryUsage().arrayBuffers <= kept - COLLECT_FROM_BYTES, 'the array was freed');
  assert.equal(process.execArgv.join(' '), before);
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'gc is not exposed to the program');
});

/** An object in V8's old generation, which only a full collection frees: kept while 64 MiB of garbage pass. */
function promoted(): WeakRef<object> {
  const kept = { payload: new Array<number>(64).fill(1.5) };
  let sink = 0;
  for (let i = 0; i < 1 << 20; i++) sink += [i, i + 1].length;
  assert.ok(sink > 0);
  return new WeakRef(kept);
}

/** Garbage that only scavenges see: young objects made and dropped. */
function scavenges(): void {
  let sink = 0;
  for (let i = 0; i < 1 << 20; i++) sink += [i].length;
  assert.ok(sink > 0);
}

// A WeakRef's target is kept to the end of the task that called deref(): each check runs in a task of its own.
const nextTask = (): Promise<void> => new Promise((r) => setImmediate(r));

test("a long read's old-generation garbage is collected once the heap grew by a step, not before", async () => {
  let used = 0;
  const check = heapGrowthCheck(
    () => used,
    () => 0, // no step from the resident memory: that one has its own test
    () => 0, // nor external memory
  );
  check(); // the first check collects: from here on, steps count from what it kept
  const ref = promoted();
  await nextTask();
  scavenges();
  await nextTask();
  assert.ok(ref.deref() !== undefined, 'only a full collection frees the dropped object');
  await nextTask();
  used = GROWTH_STEP_BYTES; // one step exactly: not yet
  check();
  await nextTask();
  assert.ok(ref.deref() !== undefined, 'no collection before the heap grew past a step');
  await nextTask();
  used = GROWTH_STEP_BYTES + 1;
  check();
  await nextTask();
  assert.equal(ref.deref(), undefined, 'collected once the heap grew past a step');
});

test('the step grows with what a collection kept, and the checks stop past GROWTH_CHECK_UP_TO', async () => {
  let used = 16 << 20;
  const check = heapGrowthCheck(
    () => used,
    () => 0, // no step from the resident memory: that one has its own test
    () => 0, // nor external memory
  );
  check(); // kept: 16 MiB, so the step is 2 MiB
  const ref = promoted();
  await nextTask();
  used = (16 << 20) + (2 << 20);
  check();
  await nextTask();
  assert.ok(ref.deref() !== undefined, 'a step is an eighth of what was kept');
  await nextTask();
  used = (16 << 20) + (2 << 20) + 1;
  check();
  await nextTask();
  assert.equal(ref.deref(), undefined);
  used = GROWTH_CHECK_UP_TO + 1;
  check(); // kept past the bound: no more checks
  const later = promoted();
  await nextTask();
  used = 4 * GROWTH_CHECK_UP_TO;
  check();
  await nextTask();
  assert.ok(later.deref() !== undefined, 'a big heap is left to V8');
});

test('the step is at least a GROWTH_RSS_SHARE-th of the resident memory: a big process is not collected per MiB', async () => {
  let used = 0;
  const rss = 256 << 20; // a step of 4 MiB
  const check = heapGrowthCheck(
    () => used,
    () => rss,
    () => 0,
  );
  check();
  const ref = promoted();
  await nextTask();
  used = rss / GROWTH_RSS_SHARE; // past GROWTH_STEP_BYTES and an eighth of what was kept, not past the share
  check();
  await nextTask();
  assert.ok(used > GROWTH_STEP_BYTES);
  assert.ok(ref.deref() !== undefined, 'no collection before the heap grew past the share of the resident memory');
  await nextTask();
  used = rss / GROWTH_RSS_SHARE + 1;
  check();
  await nextTask();
  assert.equal(ref.deref(), undefined, 'collected once it grew past it');
});

test("the growth check measures V8's old generation: the young generation's spaces are left out", () => {
  const spaces = [
    { space_name: 'read_only_space', space_used_size: 1 },
    { space_name: 'new_space', space_used_size: 1 << 20 },
    { space_name: 'old_space', space_used_size: 10 },
    { space_name: 'code_space', space_used_size: 100 },
    { space_name: 'new_large_object_space', space_used_size: 2 << 20 },
    { space_name: 'large_object_space', space_used_size: 1000 },
  ];
  assert.equal(oldGenerationBytes(spaces), 1111);
});

test('collectionsForced counts the collections that this module made', () => {
  const before = collectionsForced();
  collectNow();
  outgrown(COLLECT_FROM_BYTES);
  outgrown(COLLECT_FROM_BYTES - 1); // not yet
  assert.equal(collectionsForced() - before, 2);
});

test("external memory (array buffers, the read's chunks) counts in the growth: promoted buffers are not left to pile up", async () => {
  const used = 0;
  let external = 8 << 20;
  const check = heapGrowthCheck(
    () => used,
    () => 0,
    () => external,
  );
  check(); // kept: 8 MiB of external memory; growth counts from there
  const ref = promoted();
  await nextTask();
  external += GROWTH_STEP_BYTES;
  check();
  await nextTask();
  assert.ok(ref.deref() !== undefined, 'no collection before a step of growth');
  await nextTask();
  external += 1;
  check();
  await nextTask();
  assert.equal(ref.deref(), undefined, 'collected once the external memory grew past a step');
});

test('past GROWTH_WIDE_FROM of resident memory the step is a GROWTH_WIDE_SHARE-th of it, below it a GROWTH_RSS_SHARE-th', () => {
  // call_sites' verdict collected every ~9 MiB of a 550 MiB read (docs/benchmarks.md, round twenty-two).
  // Growth in external memory: the old generation kept stays 0, far from GROWTH_CHECK_UP_TO.
  let external = 0;
  let rss = 2 * GROWTH_WIDE_FROM;
  const check = heapGrowthCheck(
    () => 0,
    () => rss,
    () => external,
  );
  check(); // the first check collects
  const before = collectionsForced();
  external = rss / GROWTH_RSS_SHARE + 1; // past the narrow share, not the wide one
  check();
  assert.equal(collectionsForced(), before, 'no collection at a GROWTH_RSS_SHARE-th of a big process');
  external = rss / GROWTH_WIDE_SHARE;
  check();
  assert.equal(collectionsForced(), before, 'nor at a GROWTH_WIDE_SHARE-th exactly');
  external = rss / GROWTH_WIDE_SHARE + 1;
  check();
  assert.equal(collectionsForced(), before + 1, 'collected past it');
  // At GROWTH_WIDE_FROM and below, the narrow share as before.
  rss = GROWTH_WIDE_FROM;
  external += rss / GROWTH_RSS_SHARE;
  check();
  assert.equal(collectionsForced(), before + 1, 'not at a GROWTH_RSS_SHARE-th exactly');
  external += 1;
  check();
  assert.equal(collectionsForced(), before + 2);
  assert.ok(GROWTH_WIDE_SHARE < GROWTH_RSS_SHARE);
});
