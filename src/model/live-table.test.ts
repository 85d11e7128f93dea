import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from '../../test/support/prng.js';
import type { SiteId } from './ids.js';
import { LiveTable } from './live-table.js';
import { hashAddress } from './tuple-interner.js';

test('the live table agrees with a Map under random inserts, replacements and removals (with growth)', () => {
  const rnd = prng(5);
  const t = new LiveTable(16);
  const m = new Map<number, { size: number; site: number; index: number }>();
  for (let i = 0; i < 200_000; i++) {
    // Few distinct addresses so that probe runs collide, and some above 2^32.
    const address = (1 + Math.floor(rnd() * 5000)) * 8 * (rnd() < 0.3 ? 2 ** 20 : 1);
    const r = rnd();
    if (r < 0.5) {
      const v = { size: Math.floor(rnd() * 1e6), site: Math.floor(rnd() * 100) as SiteId, index: i };
      const replaced = t.insertOrReplace(address, v.size, v.site, v.index);
      assert.equal(replaced, m.has(address));
      if (replaced) assert.equal(t.removedIndex, m.get(address)?.index);
      m.set(address, v);
    } else {
      const had = m.get(address);
      assert.equal(t.remove(address), had !== undefined);
      if (had !== undefined) {
        assert.deepEqual([t.removedSize, t.removedSite, t.removedIndex], [had.size, had.site, had.index]);
        m.delete(address);
      }
    }
    assert.equal(t.size, m.size);
  }
  let n = 0;
  t.forEach((address, size, site) => {
    n++;
    assert.deepEqual([size, site], [m.get(address)?.size, m.get(address)?.site]);
  });
  assert.equal(n, m.size);
});

test('sizes and indexes past 32 bits, and indexes kept only from a size, come back exactly (with growth)', () => {
  for (const indexesFrom of [0, 1 << 20, Infinity]) {
    const rnd = prng(11);
    const t = new LiveTable(16, { indexesFrom });
    const m = new Map<number, { size: number; site: number; index: number }>();
    for (let i = 0; i < 50_000; i++) {
      const address = (1 + Math.floor(rnd() * 3000)) * 16;
      if (rnd() < 0.55) {
        const r = rnd();
        const size = r < 0.1 ? 2 ** 32 - 1 + Math.floor(rnd() * 2 ** 40) : r < 0.3 ? (1 << 20) + Math.floor(rnd() * 1000) : Math.floor(rnd() * 5000);
        const index = rnd() < 0.1 ? 2 ** 32 - 2 + Math.floor(rnd() * 2 ** 40) : i + 1;
        const v = { size, site: Math.floor(rnd() * 100), index };
        const old = m.get(address);
        const replaced = t.insertOrReplace(address, v.size, v.site as SiteId, v.index);
        assert.equal(replaced, old !== undefined);
        if (old !== undefined) assert.deepEqual([t.removedSize, t.removedSite, t.removedIndex], [old.size, old.site, old.size >= indexesFrom ? old.index : 0]);
        m.set(address, v);
      } else {
        const had = m.get(address);
        assert.equal(t.remove(address), had !== undefined);
        if (had !== undefined) {
          assert.deepEqual([t.removedSize, t.removedSite, t.removedIndex], [had.size, had.site, had.size >= indexesFrom ? had.index : 0]);
          m.delete(address);
        }
      }
    }
    let n = 0;
    t.forEach((address, size) => {
      n++;
      assert.equal(size, m.get(address)?.size);
    });
    assert.equal(n, m.size);
  }
});

test('a slot is 8 bytes of arrays, 12 when every index is kept', () => {
  assert.equal(new LiveTable(1024, { indexesFrom: Infinity }).byteLength, 1024 * 8);
  assert.equal(new LiveTable(1024, { indexesFrom: 1 << 20 }).byteLength, 1024 * 8);
  assert.equal(new LiveTable(1024).byteLength, 1024 * 12);
});

test('addresses an entry cannot hold (not a multiple of 8), addresses past 2^47 and sites past 18 bits come back exactly', () => {
  // The entry keeps the address over 8's low word, its high word's number, and the site in up to 18 bits:
  // everything else goes beside.
  const kinds = [
    (r: () => number): number => (1 + Math.floor(r() * 4000)) * 8, // the table's
    (r: () => number): number => 2 ** 47 - (1 + Math.floor(r() * 4000)) * 8, // the table's, its highest high word
    (r: () => number): number => (1 + Math.floor(r() * 4000)) * 8 + 1 + Math.floor(r() * 7), // unaligned
    (r: () => number): number => 2 ** 47 + Math.floor(r() * 4000) * 8, // past 2^47
    (r: () => number): number => 2 ** 52 + Math.floor(r() * 4000) * 8, // far past it
  ];
  for (const indexesFrom of [0, 1000, Infinity]) {
    const rnd = prng(31);
    const t = new LiveTable(16, { indexesFrom });
    const m = new Map<number, { size: number; site: number; index: number }>();
    for (let i = 0; i < 60_000; i++) {
      const address = kinds[Math.floor(rnd() * kinds.length)]!(rnd);
      if (rnd() < 0.6) {
        const r = rnd();
        const site = r < 0.2 ? 2 ** 18 - 3 + Math.floor(rnd() * 5) : r < 0.3 ? 2 ** 31 + Math.floor(rnd() * 1000) : Math.floor(rnd() * 100);
        const v = { size: rnd() < 0.05 ? 2 ** 33 + i : Math.floor(rnd() * 2000), site, index: i + 1 };
        const old = m.get(address);
        assert.equal(t.insertOrReplace(address, v.size, v.site as SiteId, v.index), old !== undefined);
        if (old !== undefined) assert.deepEqual([t.removedSize, t.removedSite, t.removedIndex], [old.size, old.site, old.size >= indexesFrom ? old.index : 0]);
        m.set(address, v);
      } else {
        const had = m.get(address);
        assert.equal(t.has(address), had !== undefined);
        assert.equal(t.remove(address), had !== undefined);
        if (had !== undefined) {
          assert.deepEqual([t.removedSize, t.removedSite, t.removedIndex], [had.size, had.site, had.size >= indexesFrom ? had.index : 0]);
          m.delete(address);
        }
      }
      assert.equal(t.size, m.size);
    }
    const seen = new Map<number, [number, number]>();
    t.forEach((address, size, site) => seen.set(address, [size, site]));
    assert.deepEqual(seen, new Map([...m].map(([a, v]) => [a, [v.size, v.site]])));
    // Every insert() too, then every remove().
    const u = new LiveTable(16, { indexesFrom });
    for (const [a, v] of m) u.insert(a, v.size, v.site as SiteId, v.index);
    assert.equal(u.size, m.size);
    for (const [a, v] of m) {
      assert.ok(u.remove(a), `address ${a} lost`);
      assert.deepEqual([u.removedSize, u.removedSite, u.removedIndex], [v.size, v.site, v.size >= indexesFrom ? v.index : 0]);
    }
    assert.equal(u.size, 0);
  }
});

test('a big table doubles within the arrays it has: no new arrays from 2^17 to 2^20 slots', () => {
  const t = new LiveTable(1 << 17);
  const before = process.memoryUsage().arrayBuffers;
  for (let i = 1; i <= 600_000; i++) t.insert(i * 48, 32, 1 as SiteId, i);
  assert.equal(t.byteLength, (1 << 20) * 12);
  // Doubling into new arrays (main before round eight) made 5 + 10 + 20 MiB of them on the way.
  assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20, `${process.memoryUsage().arrayBuffers - before} bytes of new arrays`);
  assert.ok(t.remove(48 * 300_000) && t.removedIndex === 300_000);
});

test('doubling in place keeps every entry findable, probe runs that wrap around the end included', () => {
  // Addresses whose home is among the last 256 slots of a 2^18-slot table: their runs at 2^17 slots wrap
  // past the end to slot 0, and at 2^18 they reach the end again (the entries set aside and put back last).
  const crowded: number[] = [];
  for (let a = 8; crowded.length < 400; a += 8) if ((hashAddress(a) & ((1 << 18) - 1)) >= (1 << 18) - 256) crowded.push(a);
  for (const [indexesFrom, wide] of [
    [0, false],
    [Infinity, false],
    [0, true],
    [Infinity, true],
  ] as const) {
    const rnd = prng(23);
    const t = new LiveTable(1 << 17, { indexesFrom });
    const m = new Map<number, { size: number; site: number; index: number }>();
    const add = (address: number, i: number): void => {
      // Sites past 12 bits, so that the size has 15 bits and those past them (5 %) are kept beside; one past 32.
      // Or past 18 bits: the wide mode, its site column moved with the entries.
      const site = (wide ? 2 ** 18 : 4000) + Math.floor(rnd() * 200);
      const v = { size: i === 7 ? 2 ** 33 : rnd() < 0.05 ? 2 ** 20 + Math.floor(rnd() * 5000) : 1 + Math.floor(rnd() * 5000), site, index: i };
      assert.equal(t.insertOrReplace(address, v.size, v.site as SiteId, v.index), m.has(address));
      m.set(address, v);
    };
    crowded.forEach((a, i) => add(a, i + 1));
    // About 200 000 more live (past 0.7 × 2^18: two doublings), with removals between.
    for (let i = 0; i < 330_000; i++) {
      if (rnd() < 0.25) {
        const address = (1 + Math.floor(rnd() * 1_000_000)) * 8 + 2 ** 36;
        const had = m.get(address);
        assert.equal(t.remove(address), had !== undefined);
        if (had !== undefined) m.delete(address);
      } else add((1 + Math.floor(rnd() * 1_000_000)) * 8 + 2 ** 36, 1000 + i);
    }
    assert.equal(t.byteLength, (1 << 19) * ((indexesFrom === 0 ? 12 : 8) + (wide ? 4 : 0)));
    assert.equal(t.size, m.size);
    for (const address of m.keys()) {
      assert.ok(t.has(address), `address ${address} lost`);
    }
    let n = 0;
    t.forEach((address, size, site) => {
      n++;
      assert.deepEqual([size, site], [m.get(address)?.size, m.get(address)?.site]);
    });
    assert.equal(n, m.size);
    for (const a of crowded) {
      const v = m.get(a)!;
      assert.ok(t.remove(a));
      assert.deepEqual([t.removedSize, t.removedSite, t.removedIndex], [v.size, v.site, indexesFrom === 0 ? v.index : 0]);
    }
  }
});

/** A Map beside a LiveTable, checked against it at every step and at the end (forEach). */
function checkAgainstMap(t: LiveTable, ops: Iterable<{ address: number; size?: number; site?: number }>, indexesFrom = 0, holding = false): void {
  const m = new Map<number, { size: number; site: number; index: number }>();
  let i = 0;
  for (const op of ops) {
    i++;
    if (op.size !== undefined) {
      const old = m.get(op.address);
      const v = { size: op.size, site: op.site!, index: i };
      // `holding`: the table holds what the first ops insert (liveOps()), which they replace.
      const held = holding && old === undefined && t.has(op.address);
      if (held) {
        assert.ok(t.insertOrReplace(op.address, v.size, v.site as SiteId, v.index));
        assert.deepEqual([t.removedSize, t.removedSite], [op.size, op.site]);
        m.set(op.address, v);
        continue;
      }
      assert.equal(t.insertOrReplace(op.address, v.size, v.site as SiteId, v.index), old !== undefined);
      if (old !== undefined) assert.deepEqual([t.removedSize, t.removedSite, t.removedIndex], [old.size, old.site, old.size >= indexesFrom ? old.index : 0]);
      m.set(op.address, v);
    } else {
      const had = m.get(op.address);
      assert.equal(t.has(op.address), had !== undefined);
      assert.equal(t.remove(op.address), had !== undefined, `address ${op.address}`);
      if (had !== undefined) {
        assert.deepEqual([t.removedSize, t.removedSite, t.removedIndex], [had.size, had.site, had.size >= indexesFrom ? had.index : 0]);
        m.delete(op.address);
      }
    }
    assert.equal(t.size, m.size);
  }
  const seen = new Map<number, [number, number]>();
  t.forEach((address, size, site) => seen.set(address, [size, site]));
  assert.deepEqual(seen, new Map([...m].map(([a, v]) => [a, [v.size, v.site]])));
}

test('addresses of many high words (2^35 apart): seven numbered in the entries, the others beside, all exact', () => {
  // Ten high words, met in turn, then mixed: the first seven get numbers, the last three's addresses go to the
  // map beside, and a look-up of one never finds another high word's entry with the same low word.
  for (const indexesFrom of [0, Infinity]) {
    const rnd = prng(41);
    const ops: { address: number; size?: number; site?: number }[] = [];
    for (let i = 0; i < 40_000; i++) {
      const high = i < 1000 ? Math.floor(i / 100) : Math.floor(rnd() * 10);
      const address = (3 + high * 5) * 2 ** 35 + (1 + Math.floor(rnd() * 300)) * 8;
      ops.push(rnd() < 0.6 ? { address, size: Math.floor(rnd() * 5000), site: Math.floor(rnd() * 50) } : { address });
    }
    checkAgainstMap(new LiveTable(16, { indexesFrom }), ops, indexesFrom);
  }
});

test('sites that widen the entries: sizes that no longer fit go beside, and those beside stay there', () => {
  // The entry's site starts at 8 bits and the size has 20; each wider site takes a bit from the size. Sizes
  // at the edges of every width are live while the sites widen, and come back exactly after.
  for (const indexesFrom of [0, 1 << 12, Infinity]) {
    const rnd = prng(43);
    const ops: { address: number; size?: number; site?: number }[] = [];
    let site = 0;
    for (let i = 0; i < 30_000; i++) {
      const address = (1 + Math.floor(rnd() * 4000)) * 16;
      if (rnd() < 0.3) {
        ops.push({ address });
        continue;
      }
      if (i % 1000 === 999) site = 2 ** Math.min(20, 8 + (i + 1) / 1000) - 2 + Math.floor(rnd() * 3); // past the next width
      const bits = 1 + Math.floor(rnd() * 21);
      const size = rnd() < 0.5 ? 2 ** bits - 2 + Math.floor(rnd() * 4) : Math.floor(rnd() * 100);
      ops.push({ address, size, site: rnd() < 0.5 ? site : Math.floor(rnd() * (site + 1)) });
    }
    checkAgainstMap(new LiveTable(16, { indexesFrom }), ops, indexesFrom);
  }
});

test('past 2^18 − 1 sites the table goes wide once, with live entries: a site column by slot, every value exact after', () => {
  // Sites widen the entry to 18 bits (sizes of 1 KiB or more then beside), then one of 2^18 − 1 or more
  // switches the table to its wide mode in the middle of the ops, with entries live, sizes beside among them:
  // the entry's 28 bits become the size's (those beside below 2^28 come back into it) and a column by slot
  // holds every site. After it, inserts, replacements and removals (a few thousand addresses: long probe runs
  // shifted back), growth, and forEach, checked against a Map; sizes past 2^28 and 2^32 stay beside.
  for (const indexesFrom of [0, 1 << 12, Infinity]) {
    const rnd = prng(47);
    const ops: { address: number; size?: number; site?: number }[] = [];
    for (let i = 0; i < 80_000; i++) {
      const address = (1 + Math.floor(rnd() * (i < 40_000 ? 3000 : 20_000))) * 16;
      if (rnd() < 0.35) {
        ops.push({ address });
        continue;
      }
      const r = rnd();
      const size = r < 0.1 ? 1000 + Math.floor(rnd() * 100_000) : r < 0.12 ? 2 ** 28 - 2 + Math.floor(rnd() * 4) : r < 0.13 ? 2 ** 33 + i : Math.floor(rnd() * 500);
      // Before op 30 000 sites up to 2^18 − 2 (the entry's widest); then up to 2^20, past it.
      const top = i < 30_000 ? 2 ** 18 - 1 : 2 ** 20;
      const site = rnd() < 0.3 ? top - 1 - Math.floor(rnd() * 3) : Math.floor(rnd() * top);
      ops.push({ address, size, site });
    }
    const t = new LiveTable(16, { indexesFrom });
    checkAgainstMap(t, ops.slice(0, 30_000), indexesFrom);
    // A power of two of slots, of 8 bytes (12 with every index) before the switch, 4 more after.
    const perSlot = indexesFrom === 0 ? 12 : 8;
    assert.ok(Number.isInteger(Math.log2(t.byteLength / perSlot)), `${t.byteLength} bytes`);
    // checkAgainstMap() starts from an empty Map: carry on with one that holds what is live.
    checkAgainstMap(t, [...liveOps(t), ...ops.slice(30_000)], indexesFrom, true);
    assert.ok(Number.isInteger(Math.log2(t.byteLength / (perSlot + 4))), `${t.byteLength} bytes`);
  }
});

test('sizes beside in one entry of sixteen or more switch the table to the wide mode; fewer, or sizes past 2^28, do not', () => {
  // Few sites (the entry's size has 20 bits): sizes of 1 MiB or more are kept beside, a Map entry each. The
  // table goes wide when 4096 of them come within 16 × 4096 entries put, its sizes then in 28 bits.
  const run = (share: number, big: () => number): LiveTable => {
    const rnd = prng(53);
    const t = new LiveTable(1 << 12, { indexesFrom: Infinity });
    const ops: { address: number; size?: number; site?: number }[] = [];
    for (let i = 0; i < 200_000; i++) {
      const address = (1 + Math.floor(rnd() * 2000)) * 8;
      if (rnd() < 0.5) ops.push({ address });
      else ops.push({ address, size: rnd() < share ? big() : Math.floor(rnd() * 5000), site: Math.floor(rnd() * 200) });
    }
    checkAgainstMap(t, ops, Infinity);
    return t;
  };
  const rnd = prng(59);
  assert.equal(run(0.1, () => 2 ** 20 + Math.floor(rnd() * 2 ** 24)).byteLength, (1 << 12) * 12);
  assert.equal(run(0.03, () => 2 ** 20 + Math.floor(rnd() * 2 ** 24)).byteLength, (1 << 12) * 8);
  assert.equal(run(0.1, () => 2 ** 28 + Math.floor(rnd() * 2 ** 24)).byteLength, (1 << 12) * 8);
});

test('a program of 2^18 − 2 sites stays in 8-byte entries', () => {
  const t = new LiveTable(16, { indexesFrom: Infinity });
  for (let i = 0; i < 10_000; i++) t.insertOrReplace((i + 1) * 8, 100, ((i * 7919) % (2 ** 18 - 1)) as SiteId, i);
  t.insertOrReplace(8 * 20_000, 100, (2 ** 18 - 2) as SiteId, 0);
  assert.equal(t.byteLength, (1 << 14) * 8);
  t.insertOrReplace(8 * 20_001, 100, (2 ** 18 - 1) as SiteId, 0);
  assert.equal(t.byteLength, (1 << 14) * 12);
});

/** Ops that insert what `t` holds (an insertOrReplace of each: the Map beside it then starts with them). */
function liveOps(t: LiveTable): { address: number; size: number; site: number }[] {
  const ops: { address: number; size: number; site: number }[] = [];
  t.forEach((address, size, site) => ops.push({ address, size, site }));
  return ops;
}

test('removeMany() finds what remove() in the same order finds: missing addresses, duplicates, odd addresses, big values, the wide mode', () => {
  for (const [indexesFrom, wide] of [
    [0, false],
    [1 << 12, false],
    [Infinity, true],
  ] as const) {
    const rnd = prng(23);
    const one = new LiveTable(16, { indexesFrom });
    const bulk = new LiveTable(16, { indexesFrom });
    const live: number[] = [];
    for (let i = 0; i < 30_000; i++) {
      const r = rnd();
      // Addresses of two high words, some not a multiple of 8 (kept beside, in `odd`).
      const address = (1 + Math.floor(rnd() * 1e6)) * 16 + (r < 0.02 ? 4 : 0) + (r > 0.7 ? 2 ** 36 : 0);
      const size = rnd() < 0.05 ? 2 ** 33 + i : Math.floor(rnd() * 9000);
      const site = (wide && i === 100 ? 2 ** 18 + 5 : Math.floor(rnd() * 300)) as SiteId;
      const index = rnd() < 0.05 ? 2 ** 32 + i : i + 1;
      one.insertOrReplace(address, size, site, index);
      bulk.insertOrReplace(address, size, site, index);
      live.push(address);
    }
    // Every live address in a shuffled order, with addresses never live and frees of one address twice.
    const frees: number[] = [];
    for (const address of live) {
      frees.push(address);
      if (rnd() < 0.01) frees.push(address + 8);
      if (rnd() < 0.01) frees.push(frees[Math.floor(rnd() * frees.length)]!);
    }
    for (let i = frees.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [frees[i], frees[j]] = [frees[j]!, frees[i]!];
    }
    const expected: number[][] = frees.map((address) => (one.remove(address) ? [one.removedSize, one.removedSite, one.removedIndex] : [-1]));
    const addresses = Float64Array.from(frees);
    const sizes = new Float64Array(frees.length);
    const sites = new Uint32Array(frees.length);
    const indexes = new Float64Array(frees.length);
    // In pieces, as the replay calls it, the last one partly removed already.
    for (let from = 0; from < frees.length; from += 4096) {
      const n = Math.min(4096, frees.length - from);
      bulk.removeMany(addresses.subarray(from), n, sizes.subarray(from), sites.subarray(from), indexes.subarray(from));
    }
    const got = frees.map((_, i) => (sizes[i]! < 0 ? [-1] : [sizes[i]!, sites[i]!, indexes[i]!]));
    assert.deepEqual(got, expected);
    assert.ok(expected.some((e) => e[0] === -1));
    assert.equal(bulk.size, one.size);
    assert.equal(bulk.size, 0);
  }
});

test('removeMany() removes only its first n addresses, whatever the arrays hold past them, in pieces of any length', () => {
  // The replay passes its own arrays of 4096 with n at most that: past n they hold an earlier call's addresses.
  const rnd = prng(24);
  const one = new LiveTable(16, { indexesFrom: Infinity });
  const bulk = new LiveTable(16, { indexesFrom: Infinity });
  const frees: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const address = 0x7f0000000000 + i * 48 + (rnd() < 0.5 ? 16 : 0);
    one.insertOrReplace(address, i & 1023, (i % 200) as SiteId, 0);
    bulk.insertOrReplace(address, i & 1023, (i % 200) as SiteId, 0);
    frees.push(address);
  }
  const addresses = new Float64Array(4096);
  const sizes = new Float64Array(4096);
  const sites = new Uint32Array(4096);
  const indexes = new Float64Array(4096);
  let at = 0;
  for (const n of [1, 255, 256, 257, 1000, 4096, 3000, 513, 77]) {
    // What the arrays hold past n: the next addresses to free (freed too early if read).
    for (let i = 0; i < 4096; i++) addresses[i] = frees[(at + i) % frees.length]!;
    bulk.removeMany(addresses, n, sizes, sites, indexes);
    for (let i = 0; i < n; i++) {
      assert.ok(one.remove(frees[at + i]!));
      assert.deepEqual([sizes[i], sites[i]], [one.removedSize, one.removedSite]);
    }
    at += n;
    assert.equal(bulk.size, one.size);
  }
});

test('giveUp() lets go of the arrays, returns their bytes, and leaves an empty table that works', () => {
  const t = new LiveTable(16);
  for (let i = 1; i <= 300_000; i++) t.insert(i * 8 * (i % 7 === 0 ? 2 ** 20 : 1), i % 5000, (i % 300_000) as SiteId, i);
  t.insert(12345, 10, 1 as SiteId, 0); // odd: not a multiple of 8
  const bytes = t.byteLength;
  assert.ok(bytes >= 300_000 * 8, `${bytes}`);
  assert.equal(t.giveUp(), bytes);
  assert.equal(t.size, 0);
  assert.ok(t.byteLength <= 16 * 16, `${t.byteLength}`);
  // No array of the table's old size is left in it.
  for (const v of Object.values(t)) if (ArrayBuffer.isView(v)) assert.ok(v.byteLength <= 1024, `an array of ${v.byteLength} bytes kept`);
  assert.equal(t.has(8), false);
  t.insert(8, 100, 3 as SiteId, 7);
  assert.equal(t.has(8), true);
  assert.equal(t.remove(8), true);
  assert.equal(t.removedSize, 100);
  assert.equal(t.removedSite, 3);
});
