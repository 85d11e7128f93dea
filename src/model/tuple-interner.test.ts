// The Python stack nodes' interner: exact keys (u32 code ids and instructions), ids stable across growth,
// and the hint checked, never trusted.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FAMILY_INSTR_BITS, FAMILY_SLOTS, PyNodeInterner, familyHash, memberHash, nodeHome } from './tuple-interner.js';

const node = (i: number): [number, number, number] => [i % 1000, (i * 2654435761) >>> 0, (i * 40503 + 7) >>> 0];

test('nodes get dense ids in order of first appearance, stable across growth, keys given back exactly', () => {
  const t = new PyNodeInterner(16); // grows (rehashes) a dozen times on the way
  const n = 100_000;
  for (let i = 0; i < n; i++) assert.equal(t.intern(...node(i), -1), i);
  for (let i = n - 1; i >= 0; i -= 7) assert.equal(t.intern(...node(i), -1), i);
  assert.equal(t.size, n);
  for (const i of [0, 1, 31, 32, 4095, 65_536, n - 1]) {
    const [parent, code, instr] = node(i);
    assert.deepEqual([t.parent(i), t.codeId(i), t.instr(i)], [parent, code, instr]);
  }
});

test('keys differing in one component only are different nodes (a full probe chain compares all three)', () => {
  const t = new PyNodeInterner(16);
  // Many nodes that differ only in the instruction, or the code, or the parent: they share slots' chains.
  const keys: [number, number, number][] = [];
  for (let k = 0; k < 300; k++) keys.push([5, 77, k], [5, k + 1000, 3], [k + 10, 77, 3]);
  const ids = keys.map((k) => t.intern(...k, -1));
  assert.equal(new Set(ids).size, keys.length);
  keys.forEach((k, i) => assert.equal(t.intern(...k, -1), ids[i]));
});

test('code ids and instructions past 2^31 (u32) are exact, not confused with their int32 bits elsewhere', () => {
  const t = new PyNodeInterner(16);
  const a = t.intern(3, 0xffffffff, 0x80000000, -1);
  const b = t.intern(3, 0x7fffffff, 0x80000000, -1);
  assert.notEqual(a, b);
  assert.deepEqual([t.codeId(a), t.instr(a)], [0xffffffff, 0x80000000]);
  assert.equal(t.intern(3, 0xffffffff, 0x80000000, -1), a);
  assert.throws(() => t.intern(0x80000000, 1, 1, -1), RangeError);
});

test('the hint is taken only when its key matches; any other hint (wrong node, out of range) falls back to the probe', () => {
  const t = new PyNodeInterner(16);
  for (let i = 0; i < 50; i++) t.intern(i, 9, 9, -1); // node i: (i, 9, 9)
  t.intern(7, 9, 10, -1); // 50: (7, 9, 10)
  assert.equal(t.intern(7, 9, 9, 8), 7, 'same code and instruction as the hinted node, another parent');
  assert.equal(t.intern(7, 9, 10, 7), 50, 'same parent and code as the hinted node, another instruction');
  assert.equal(t.intern(12, 9, 9, 12), 12, 'the right hint');
  assert.equal(t.intern(20, 9, 9, 51), 20, 'a hint past the last id');
  assert.equal(t.intern(60, 9, 9, 1e9), 51, 'a new node, whatever the hint');
  // A hint past the last id names no node, even where the key store's unused room reads as (0, 0, 0).
  assert.equal(t.intern(0, 0, 0, 52), 52);
  assert.equal(t.size, 53);
  assert.equal(t.intern(0, 0, 0, 53), 52);
});

test('slots hold ids in 3 bytes until the ids outgrow them, then in 4: every node keeps its id', () => {
  // 9 narrow bits: ids 0-511 in narrow slots, then the slots are made again with the top byte (and later doubled).
  const t = new PyNodeInterner(16, 9);
  const n = 5000;
  for (let i = 0; i < n; i++) {
    assert.equal(t.intern(...node(i), -1), i);
    // Each node already interned is found again, across the change of the slots (at 512 ids) and the doublings.
    if (i === 511 || i === 512 || i === 513 || i === 1000) for (let j = 0; j <= i; j++) assert.equal(t.intern(...node(j), -1), j, `node ${j} after ${i + 1} ids`);
  }
  for (let i = n - 1; i >= 0; i--) assert.equal(t.intern(...node(i), -1), i);
  assert.equal(t.size, n);
  assert.deepEqual([t.parent(4999), t.codeId(4999), t.instr(4999)], node(4999));
});

test('a fingerprint is a hint only: nodes whose slots chain with equal fingerprints are told apart by their keys', () => {
  const t = new PyNodeInterner(16);
  // 20 000 nodes in tables of up to 32 k slots: many probes meet slots of the same 8-bit fingerprint on the way.
  const ids = new Map<string, number>();
  for (let i = 0; i < 20_000; i++) ids.set(node(i * 7).join(), t.intern(...node(i * 7), -1));
  assert.equal(new Set(ids.values()).size, 20_000);
  for (let i = 0; i < 20_000; i++) assert.equal(t.intern(...node(i * 7), -1), ids.get(node(i * 7).join()));
});

test('dropIndex() gives up the slots only: keys stay readable, and a probe after it makes the index again', () => {
  const t = new PyNodeInterner(16);
  const n = 50_000;
  for (let i = 0; i < n; i++) t.intern(i >> 1, i * 3, i % 11, -1);
  const keysBytes = t.byteLength - n * 1.25 * 4; // at least 1.25 slots of 4 bytes a node (the index at most 4/5 full)
  const dropped = t.dropIndex();
  assert.ok(dropped >= n * 1.25 * 4);
  assert.ok(t.byteLength <= keysBytes);
  assert.deepEqual([t.parent(777), t.codeId(777), t.instr(777)], [777 >> 1, 777 * 3, 777 % 11]);
  // No hint: the probe finds every node at its id (no duplicate), and adds new ones after them.
  for (let i = n - 1; i >= 0; i -= 3) assert.equal(t.intern(i >> 1, i * 3, i % 11, -1), i);
  assert.equal(t.intern(1, 2, 3, -1), n);
  for (let i = 0; i < n; i++) assert.equal(t.intern(i >> 1, i * 3, i % 11, -1), i);
  assert.equal(t.size, n + 1);
});

test('against a Map: random keys (many repeated, many colliding), random hints, growth, a dropped index and wide ids', () => {
  // A small deterministic generator (xorshift32): the same keys at every run.
  let x = 2463534242;
  const rand = (n: number): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
  for (const narrowBits of [24, 10]) {
    const t = new PyNodeInterner(16, narrowBits);
    const want = new Map<string, number>();
    const keys: [number, number, number][] = [];
    for (let i = 0; i < 60_000; i++) {
      // Small ranges: ~40 % of the keys repeat one met before; the code id and instruction span u32.
      const k: [number, number, number] = [rand(60), rand(50) * 0x05000001, rand(30) * 0x08000007];
      const key = k.join();
      const hint = rand(4) === 0 ? rand(t.size + 2) : rand(3) === 0 ? (want.get(key) ?? -1) : -1;
      const id = t.intern(...k, hint);
      if (!want.has(key)) {
        want.set(key, want.size);
        keys.push(k);
      }
      assert.equal(id, want.get(key), `key ${key} at ${i}`);
      if (i === 30_000) t.dropIndex();
    }
    assert.equal(t.size, want.size);
    keys.forEach((k, id) => {
      assert.deepEqual([t.parent(id), t.codeId(id), t.instr(id)], k);
      assert.equal(t.intern(...k, -1), id);
    });
  }
});

test("a family's nodes (one parent, one code, instructions in one block) have their homes in one group of slots; other families elsewhere", () => {
  const home = (parent: number, code: number, ins: number): number => nodeHome(familyHash(parent, code, ins), memberHash(familyHash(parent, code, ins), ins));
  const group = (h: number): number => Math.floor(h / FAMILY_SLOTS);
  const block = 1 << FAMILY_INSTR_BITS;
  const groups = new Set<number>();
  for (let f = 0; f < 200; f++) {
    const parent = f * 37 + 1;
    const code = (f * 2654435761) >>> 0;
    const first = 3 * block; // the block of instructions 768-1023
    const members = Array.from({ length: 8 }, (_, k) => home(parent, code, first + k * 30));
    assert.equal(new Set(members.map(group)).size, 1, `family ${f}: one group`);
    // Within it, the members are spread over its slots, not all on one.
    assert.ok(new Set(members.map((h) => h % FAMILY_SLOTS)).size >= 3, `family ${f}: its slots`);
    groups.add(group(members[0]!));
    // The same parent and code at an instruction of another block, another parent, another code: other families.
    groups.add(group(home(parent, code, first + block)));
    groups.add(group(home(parent + 1, code, first)));
    groups.add(group(home(parent, code + 1, first)));
  }
  // 800 families over 2^28 groups: all apart (a hash of the family, not of its parent or code alone).
  assert.equal(groups.size, 800);
});

test('families of many nodes (128 instructions of one block under one parent, many parents of one code) against a Map, through growth and a dropped index', () => {
  const t = new PyNodeInterner(16);
  const want = new Map<string, number>();
  const keys: [number, number, number][] = [];
  for (let round = 0; round < 3; round++) {
    for (let p = 0; p < 40; p++) {
      for (let i = 0; i < 128; i++) {
        // Every other instruction of block 2, and the same under 40 parents; a second code on a few.
        const k: [number, number, number] = [p, 0xc0de, 512 + 2 * i];
        for (const key of p % 8 === 0 ? [k, [p, 0xc0df, 512 + 2 * i] as [number, number, number]] : [k]) {
          const s = key.join();
          if (!want.has(s)) {
            want.set(s, want.size);
            keys.push(key);
          }
          assert.equal(t.intern(...key, -1), want.get(s), `${s} in round ${round}`);
        }
      }
    }
    if (round === 1) t.dropIndex();
  }
  assert.equal(t.size, want.size);
  keys.forEach((k, id) => assert.equal(t.intern(...k, -1), id));
});

test('the rehash by regions (regions of 64 slots here, of 2^18 in use) finds every node at its id, across doublings, wide ids and a dropped index', () => {
  for (const narrowBits of [24, 10]) {
    const t = new PyNodeInterner(16, narrowBits, 6);
    const n = 20_000; // doubles from 32 slots to 32 k: every doubling past 64 slots goes region by region
    let bytes = t.byteLength;
    let doublings = 0;
    for (let i = 0; i < n; i++) {
      assert.equal(t.intern(...node(i), -1), i);
      // Right after each growth (of the index or the keys), every node so far is found: none lost or put twice.
      if (t.byteLength !== bytes) {
        bytes = t.byteLength;
        doublings++;
        for (let j = 0; j <= i; j++) assert.equal(t.intern(...node(j), -1), j, `node ${j} after ${i + 1} ids`);
      }
    }
    assert.ok(doublings >= 10);
    assert.equal(t.size, n);
    t.dropIndex(); // made again in id order (no old slots to work in), then regions at the next doubling
    for (let i = n - 1; i >= 0; i -= 5) assert.equal(t.intern(...node(i), -1), i);
    for (let i = n; i < 2 * n; i++) assert.equal(t.intern(...node(i), -1), i);
    for (let i = 0; i < 2 * n; i++) assert.equal(t.intern(...node(i), -1), i);
    assert.equal(t.size, 2 * n);
  }
});
