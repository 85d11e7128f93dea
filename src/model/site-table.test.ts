// The site table: keys interned into dense ids, in 16 bytes a site.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NativeNodeId1, PyNodeId1, SiteId, ThreadIndex } from './ids.js';
import { ROOM_FROM_SITES, SITE_COLUMNS, SiteKeys, SiteTable, siteCapacityFor } from './site-table.js';

const key = (i: number): [PyNodeId1, NativeNodeId1, ThreadIndex, number] => [(i * 7 + 1) as PyNodeId1, (i % 3) as NativeNodeId1, (i % 5) as ThreadIndex, i % 4];

test('sites get dense ids in order of first appearance, and give their keys back', () => {
  const t = new SiteTable();
  const n = 20_000;
  for (let i = 0; i < n; i++) assert.equal(t.intern(...key(i)), i);
  for (let i = n - 1; i >= 0; i--) assert.equal(t.intern(...key(i)), i); // known: the same id
  assert.equal(t.size, n);
  for (const i of [0, 1, 4095, 4096, 19_999]) {
    const [py, native, thread, allocator] = key(i);
    assert.deepEqual([t.pyStack(i as never), t.nativeStack(i as never), t.thread(i as never), t.allocator(i as never)], [py, native, thread, allocator]);
  }
  // The largest node id a key can hold, and one past it refused rather than cut.
  assert.equal(t.intern(0x7fffffff as PyNodeId1, 0 as NativeNodeId1, 0 as ThreadIndex, 0), n);
  assert.equal(t.pyStack(n as never), 0x7fffffff);
  assert.throws(() => t.intern(0x80000000 as PyNodeId1, 0 as NativeNodeId1, 0 as ThreadIndex, 0), RangeError);
});

test('a clone is independent: the same ids, its own new sites and columns', () => {
  const t = new SiteTable();
  for (let i = 0; i < 5000; i++) t.intern(...key(i));
  t.columns.totalBytes.array[3] = 42;
  const c = t.clone();
  assert.equal(c.intern(...key(3)), 3);
  assert.equal(c.columns.totalBytes.array[3], 42);
  assert.equal(c.intern(...key(5000)), 5000);
  assert.equal(t.size, 5000);
  assert.equal(t.intern(...key(5001)), 5000);
  assert.deepEqual([c.pyStack(5000 as never), t.pyStack(5000 as never)], [key(5000)[0], key(5001)[0]]);
});

test("a site costs 12 bytes of key; its Python node's first site 4 bytes a node, the others 1.25-2.5 slots of index", () => {
  // call_sites at 5 % of its size has 1.18 M sites: 32 bytes of key a site was 64 MiB (docs/benchmarks.md, round eighteen).
  // Round thirty: the first site of each node is found by its node (4 bytes a node, doubling), not in the index.
  const t = new SiteTable();
  const n = 100_000;
  // Node ids are dense (the stack resolver's interner): two sites a node, on two threads.
  for (let i = 0; i < n; i++) t.intern(((i >> 1) + 1) as PyNodeId1, 0 as NativeNodeId1, (i & 1) as ThreadIndex, 0);
  const capacity = 131_072; // doubling from 4,096
  const columns = (SITE_COLUMNS.length - 3) * capacity * 8; // the three on-demand columns hold nothing (below)
  const first = 65_536 * 4; // nodes 0 to 50 000, doubling from 4096
  // No peak marks or peak columns since round twenty-seven (site-peaks.ts).
  assert.equal(t.byteLength - t.peak.byteLength - columns - capacity * 12 - first, 65_536 * 4, 'the index: 50 000 sites in 2^16 slots');
});

test('tempCount, tempBytes and updatedSeq are made only when asked for, then cover every site', () => {
  // 24 bytes a site that a report on an event capture never reads (docs/benchmarks.md, round nineteen).
  const t = new SiteTable();
  const n = 10_000;
  for (let i = 0; i < n; i++) t.intern(...key(i));
  const capacity = 16_384; // doubling from 4,096
  for (const name of ['tempCount', 'tempBytes', 'updatedSeq'] as const) assert.equal(t.columns[name].byteLength, 0, name);
  // A clone of a table whose column was never asked for still holds nothing for it.
  assert.equal(t.clone().columns.tempCount.byteLength, 0);
  const temp = t.columns.tempCount.array;
  assert.equal(temp.length, capacity);
  assert.ok(temp.every((v) => v === 0));
  temp[n - 1] = 5;
  // Made: it grows with the table from now on, and a clone copies it.
  for (let i = n; i < 20_000; i++) t.intern(...key(i));
  assert.equal(t.columns.tempCount.array.length, 32_768);
  assert.equal(t.columns.tempCount.array[n - 1], 5);
  assert.equal(t.clone().columns.tempCount.array[n - 1], 5);
  assert.equal(t.columns.tempBytes.byteLength, 0);
  assert.equal(t.columns.updatedSeq.array.length, 32_768);
});

test('past roomFrom sites a table grows to its room at once, then keeps its arrays; past the room it doubles', () => {
  // A copy at each doubling left the old array as garbage beside the new one: on call_sites the doubling from
  // 2 M to 4 M sites was summary's peak, seven 16 MiB columns twice over (docs/benchmarks.md, round twenty-one).
  const n = 100_000;
  const roomFrom = 8192;
  const t = new SiteTable(undefined, n, roomFrom);
  const names = SITE_COLUMNS.filter((name) => name !== 'tempCount' && name !== 'tempBytes' && name !== 'updatedSeq');
  for (let i = 0; i < roomFrom; i++) t.intern(...key(i));
  assert.equal(t.columns.totalBytes.array.length, roomFrom, 'doubling from 4096 up to roomFrom');
  t.columns.totalBytes.array[roomFrom - 1] = 7;
  t.intern(...key(roomFrom));
  const before = names.map((name) => t.columns[name].array);
  const bytes = t.byteLength;
  const keyIndex = (): number => (t as unknown as { keys: SiteKeys }).keys.indexBytes;
  const keyIndexBefore = keyIndex();
  assert.deepEqual([before[0]!.length, t.room, t.columns.totalBytes.array[roomFrom - 1]], [131_072, 131_072, 7], 'the room at once, rounded up to a power of two');
  for (let i = roomFrom + 1; i < n; i++) t.intern(...key(i));
  names.forEach((name, i) => assert.equal(t.columns[name].array, before[i], name));
  // Only the keys' index grew (its slots are filled with -1, so it doubles as the sites come; here the first sites
  // by node, each key's node its own): the keys had room.
  assert.ok(keyIndex() > keyIndexBefore);
  assert.equal(t.byteLength - bytes, keyIndex() - keyIndexBefore);
  // Past the room it asked for, the table doubles as before, its values kept.
  t.columns.totalBytes.array[n - 1] = 5;
  for (let i = n; i < 140_000; i++) t.intern(...key(i));
  assert.deepEqual([t.columns.totalBytes.array.length, t.columns.totalBytes.array[n - 1]], [262_144, 5]);
  assert.deepEqual([t.pyStack(0 as never), t.pyStack(139_999 as never)], [key(0)[0], key(139_999)[0]]);
});

test('a table with room but fewer than roomFrom sites makes none of it: it doubles from 4096', () => {
  // Room made up front for few sites cost churn 2.3-2.6 MB of peak (docs/benchmarks.md, round twenty-one).
  const t = new SiteTable(undefined, 1 << 22);
  for (let i = 0; i < 5000; i++) t.intern(...key(i));
  assert.deepEqual([t.columns.totalBytes.array.length, t.room], [8192, 1 << 22]);
  assert.equal(ROOM_FROM_SITES, 1 << 20);
});

test('the room made at once: one site per 32 bytes of capture, from 4096 to 2^22 sites', () => {
  assert.deepEqual(
    [0, 32 * 4096, 88e6, 2 ** 40].map((bytes) => siteCapacityFor(bytes)),
    [4096, 4096, 2_750_000, 1 << 22],
  );
  // The on-demand columns, once asked for, have the same room.
  const t = new SiteTable(undefined, siteCapacityFor(88e6), 4096);
  t.intern(...key(0));
  for (let i = 1; i <= 4096; i++) t.intern(...key(i));
  assert.deepEqual([t.columns.totalCount.array.length, t.columns.tempBytes.array.length], [1 << 22, 1 << 22]);
});

test("the keys' index doubles at 4/5 full, region by region, and finds every site after it", () => {
  // rehash() sorts the sites by their new home into a scratch array of (home, slot) pairs, then puts them in
  // region by region (docs/benchmarks.md, round twenty-two); the index holds up to 4/5 of its slots (round
  // twenty-four: call_sites' 2.6 M sites in 2^22 slots, not 2^23).
  const t = new SiteTable();
  // Keys of wide components (a hash's every bit in play), in an order unlike their homes'; their Python nodes past
  // 2^26, where a node's first site is in the index too (FIRST_LIMIT), so that every site is.
  const wide = (i: number): [PyNodeId1, NativeNodeId1, ThreadIndex, number] => [
    (((i * 2_654_435_761) >>> 1) | (1 << 26)) as PyNodeId1,
    (i & 1 ? (i * 40_503) >>> 3 : 0) as NativeNodeId1,
    (i % 7) as ThreadIndex,
    i % 16,
  ];
  const n = 300_000;
  const indexBytes = (): number => (t as unknown as { keys: { slots: Int32Array } }).keys.slots.byteLength;
  let rehashes = 0;
  let slots = indexBytes() / 4;
  for (let i = 0; i < n; i++) {
    assert.equal(t.intern(...wide(i)), i);
    if (indexBytes() / 4 !== slots) {
      rehashes++;
      // Doubled when the sites passed 4/5 of it, not before.
      assert.equal(indexBytes() / 4, slots * 2, `index doubled at ${i + 1} sites`);
      assert.ok((i + 1) * 5 > slots * 4 && i * 5 <= slots * 4, `index of ${slots} slots doubled at ${i + 1} sites`);
      slots = indexBytes() / 4;
    }
  }
  assert.equal(rehashes, 6); // 8192 slots to 2^19 (at 419 431 sites)
  for (let i = n - 1; i >= 0; i -= 3) assert.equal(t.intern(...wide(i)), i);
  for (let i = 0; i < n; i += 3) assert.equal(t.intern(...wide(i)), i);
  for (let i = 1; i < n; i += 3) assert.equal(t.intern(...wide(i)), i);
  assert.equal(t.size, n, 'no site interned twice');
  assert.equal(t.intern(...wide(n)), n, 'a new key is new');
});

test("the keys' slots tag their ids until the ids outgrow the tag-free bits; a tag is a hint only", () => {
  // 6 id bits: ids 0-63 in tagged slots, then the slots are made again without tags (and later doubled).
  const k = new SiteKeys(16, undefined, 16, Infinity, 6);
  const n = 20_000;
  // Keys that differ in one component only: many share a slot chain, and a tag of 5 bits matches 1 in 32.
  const near = (i: number): [number, number, number, number] => [i >> 4, 3, i & 1, (i >> 1) & 7];
  for (let i = 0; i < n; i++) {
    assert.equal(k.intern(...near(i)), i);
    if (i === 63 || i === 64 || i === 65 || i === 1000) for (let j = 0; j <= i; j++) assert.equal(k.intern(...near(j)), j, `site ${j} after ${i + 1} ids`);
  }
  for (let i = n - 1; i >= 0; i--) assert.equal(k.intern(...near(i)), i);
  assert.equal(k.count, n);
  assert.deepEqual(
    [0, 1, 2, 3].map((c) => k.get(n - 1, c)),
    near(n - 1),
  );
  // With every tag bit (the default), keys chaining with equal tags are told apart by their keys.
  const t = new SiteKeys(16);
  for (let i = 0; i < n; i++) assert.equal(t.intern(...near(i * 7)), i);
  for (let i = 0; i < n; i++) assert.equal(t.intern(...near(i * 7)), i);
  assert.equal(t.count, n);
});

test('seal() gives up the index, keeps ids, keys and columns; interning after it makes them again', () => {
  const t = new SiteTable();
  const n = 30_000;
  for (let i = 0; i < n; i++) t.intern(...key(i));
  t.columns.totalBytes.array[7] = 99;
  const before = t.byteLength;
  const given = t.seal();
  assert.ok(given >= n * 1.25 * 4, `gave up ${given} bytes`); // at least 1.25 slots of 4 bytes a site (4/5 full at most)
  assert.equal(t.byteLength, before - given);
  assert.equal(t.seal(), 0); // once
  assert.equal(t.size, n);
  assert.equal(t.columns.totalBytes.array[7], 99);
  const [py, native, thread, allocator] = key(12_345);
  assert.deepEqual([t.pyStack(12_345 as never), t.nativeStack(12_345 as never), t.thread(12_345 as never), t.allocator(12_345 as never)], [py, native, thread, allocator]);
  // Interning again: the known sites keep their ids (no duplicate), new ones follow.
  for (let i = n - 1; i >= 0; i -= 7) assert.equal(t.intern(...key(i)), i);
  assert.equal(t.intern(...key(n)), n);
  for (let i = 0; i < n + 1; i++) assert.equal(t.intern(...key(i)), i);
  // A sealed table's clone interns as well.
  const s = new SiteTable();
  for (let i = 0; i < 100; i++) s.intern(...key(i));
  s.seal();
  const c = s.clone();
  assert.equal(c.intern(...key(42)), 42);
  assert.equal(c.intern(...key(100)), 100);
});

test('the count columns in Int32 keep their values and their type as the table grows, is copied and is widened', () => {
  const table = new SiteTable();
  const intern = (i: number): SiteId => table.intern((i + 1) as PyNodeId1, 0 as NativeNodeId1, 0 as ThreadIndex, 0);
  for (let i = 0; i < 100; i++) table.columns.totalCount.array[intern(i)] = i * 3;
  const float64Bytes = table.byteLength;
  table.countsInInt32();
  assert.ok(table.countsAreInt32);
  assert.equal(float64Bytes - table.byteLength, 2 * 4096 * 4); // two columns of 4096 sites, 4 bytes each less
  for (let i = 100; i < 10_000; i++) table.columns.liveCount.array[intern(i)] = i; // grows past 4096 sites
  const copy = table.clone();
  for (const t of [table, copy]) {
    for (const c of ['totalCount', 'liveCount'] as const) assert.ok(t.columns[c].array instanceof Int32Array, c);
    assert.deepEqual([t.columns.totalCount.array[99], t.columns.liveCount.array[9999], t.columns.liveCount.array[5000]], [297, 9999, 5000]);
  }
  table.widenCounts();
  assert.ok(!table.countsAreInt32 && table.columns.liveCount.array instanceof Float64Array && copy.countsAreInt32);
  assert.deepEqual([table.columns.totalCount.array[99], table.columns.liveCount.array[9999]], [297, 9999]);
  assert.ok(table.columns.totalBytes.array instanceof Float64Array);
});

test("a site's thread and allocator share one entry when they fit, other pairs keep their own: keys stay distinct and read back", () => {
  const k = new SiteKeys(16);
  // Around the packing's limits (thread 2^23, allocator 256), negative threads and allocators, and pairs whose packed values
  // would collide if the wide ones were packed too (thread 1, allocator 256 against thread 2, allocator 0).
  const threads = [-2, -1, 0, 1, 2, 5, (1 << 23) - 1, 1 << 23, (1 << 23) + 1, 0x7fffffff];
  const allocators = [-3, -1, 0, 1, 15, 255, 256, 257, 1000, 0x7fffffff];
  const keys: [number, number, number, number][] = [];
  for (const py of [1, 7]) for (const th of threads) for (const al of allocators) keys.push([py, 2, th, al]);
  keys.forEach((key, i) => assert.equal(k.intern(...key), i, `new ${key.join(',')}`));
  keys.forEach((key, i) => {
    assert.equal(k.intern(...key), i, `again ${key.join(',')}`);
    assert.deepEqual(
      [0, 1, 2, 3].map((c) => k.get(i, c)),
      key,
    );
  });
  assert.equal(k.count, keys.length);
  // The index made again (seal()'s dropIndex(), then rebuildIndex()) finds the same ids.
  k.dropIndex();
  k.rebuildIndex();
  keys.forEach((key, i) => assert.equal(k.intern(...key), i, `after the rebuild ${key.join(',')}`));
  // A copy keeps the wide pairs.
  const copy = new SiteKeys(16, k);
  keys.forEach((key, i) =>
    assert.deepEqual(
      [0, 1, 2, 3].map((c) => copy.get(i, c)),
      key,
    ),
  );
  assert.equal(copy.intern(1, 2, 1 << 23, 256), k.intern(1, 2, 1 << 23, 256));
});

test('the keys take 12 bytes a site (the thread and the allocator in one entry)', () => {
  const k = new SiteKeys(16);
  for (let i = 0; i < 4096; i++) k.intern(i, 0, i & 3, 1);
  assert.equal(k.byteLength - k.indexBytes, 4096 * 12);
});

test("a node's first site is found by its node, the others by the index: the ids of a Map, through rehashes, the tags' end, rebuilds and copies", () => {
  // Round thirty: the first site of each Python node (below 2^26) is held by its node (`first`) and not in the index;
  // the index holds the others, and a rehash tells them apart by `first`. Ids must stay those of a plain interner:
  // dense, in order of first appearance, whatever the interleaving. Small tag-free id bits (6, 9) end the tags
  // while both kinds of site come; 26 is the default.
  for (const [idBits, seed0] of [
    [6, 29],
    [9, 30],
    [9, 31],
    [26, 32],
  ] as const) {
    let seed = seed0;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    let k = new SiteKeys(16, undefined, 16, Infinity, idBits);
    const ids = new Map<string, number>();
    const intern = (key: [number, number, number, number], what: string): void => {
      const s = key.join(',');
      const want = ids.get(s) ?? ids.size;
      ids.set(s, want);
      assert.equal(k.intern(...key), want, `${what} (${s}), id bits ${idBits}`);
    };
    let node = 0;
    for (let i = 0; i < 20_000; i++) {
      // Mostly a new node (its first site), often a node seen before with another native node, thread or allocator
      // (the index), sometimes a key seen before (found either way), node 0, nodes past 2^26 (the index, first sites
      // too), and (thread, allocator) pairs that do not fit one entry.
      const r = rand(20);
      const py = r < 10 ? ++node : r < 17 ? rand(node + 1) : r < 18 ? 0 : (1 << 26) + rand(50);
      const wide = rand(50) === 0;
      intern([py, rand(2), wide ? (1 << 23) + rand(2) : rand(3), wide ? 256 : rand(2)], `intern ${i}`);
      if (i === 12_000) {
        k.dropIndex();
        k.rebuildIndex();
      }
      if (i === 15_000) k.dropIndex(); // intern() makes it again
      if (i === 16_000) k = new SiteKeys(16, k);
      if (i === 17_000) {
        k.dropIndex();
        k = new SiteKeys(16, k); // a copy of a dropped index makes it again too
      }
    }
    for (const [s, id] of ids) assert.equal(k.intern(...(s.split(',').map(Number) as [number, number, number, number])), id, s);
    assert.equal(k.count, ids.size);
    for (const [s, id] of ids) {
      assert.deepEqual(
        [0, 1, 2, 3].map((c) => k.get(id, c)),
        s.split(',').map(Number),
      );
    }
  }
});
