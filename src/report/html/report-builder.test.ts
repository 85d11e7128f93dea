import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from '../../../test/support/prng.js';
import { PairIndex, ReportDataBuilder } from './report-builder.js';

test('PairIndex keeps every pair through its grows, as a Map of the pairs does', () => {
  const rnd = prng(7);
  for (const capacity of [4, 16, 4096, 16384]) {
    const index = new PairIndex(capacity);
    const ref = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      // Pairs alike in their low bits, and large ones: the probing and the grows both get work.
      const a = rnd() < 0.5 ? Math.floor(rnd() * 64) << 16 : Math.floor(rnd() * 2 ** 31);
      const b = Math.floor(rnd() * 8);
      const key = `${a}:${b}`;
      if (rnd() < 0.5) {
        const got = index.getOrSet(a, b, i);
        assert.equal(got, ref.get(key) ?? -1);
        if (got === -1) ref.set(key, i);
      } else {
        index.set(a, b, i);
        ref.set(key, i);
      }
    }
    for (const [key, id] of ref) {
      const [a, b] = key.split(':').map(Number) as [number, number];
      assert.equal(index.get(a, b), id);
    }
    assert.equal(index.get(2 ** 31 - 1, 9), -1);
  }
});

// The locations and strings as the builder made them with a Map of `${node}:${thread}:${allocator}` keys, the
// allocator's string made when its location was.
function referenceLocations(calls: readonly (readonly [number, number, string, number, number])[], names: readonly string[]) {
  const strings: string[] = [];
  const stringIds = new Map<string, number>();
  const string = (s: string): number => {
    let id = stringIds.get(s);
    if (id === undefined) {
      id = strings.length;
      strings.push(s);
      stringIds.set(s, id);
    }
    return id;
  };
  const ids = new Map<string, number>();
  const loc: { node: number; thread: number; allocator: number; bytes: number; count: number }[] = [];
  const at: number[] = [];
  let n = 0;
  for (const [node, thread, allocator, bytes, count] of calls) {
    if (n < names.length) string(names[n++]!); // strings made between the adds (frame names)
    const key = `${node}:${thread}:${allocator}`;
    let id = ids.get(key);
    if (id === undefined) {
      id = loc.length;
      loc.push({ node, thread, allocator: string(allocator), bytes: 0, count: 0 });
      ids.set(key, id);
    }
    loc[id]!.bytes += bytes;
    loc[id]!.count += count;
    at.push(id);
  }
  return { strings, loc, at };
}

test('add() makes the locations, their order and the strings as a Map of string keys made them', () => {
  const rnd = prng(11);
  const allocators = ['malloc', 'pymalloc', 'calloc', 'realloc', 'mmap', 'other', 'f0'];
  for (let round = 0; round < 20; round++) {
    const calls: [number, number, string, number, number][] = [];
    const names: string[] = [];
    const sites = 50 + Math.floor(rnd() * 3000);
    for (let i = 0; i < sites; i++) {
      // Runs of one allocator (as the sites come), and threads past the first few.
      const allocator = rnd() < 0.7 && calls.length > 0 ? calls[calls.length - 1]![2] : allocators[Math.floor(rnd() * allocators.length)]!;
      calls.push([Math.floor(rnd() * (round + 2) * 40), Math.floor(rnd() * (round % 3 === 0 ? 300 : 4)), allocator, Math.floor(rnd() * 1e6), 1 + Math.floor(rnd() * 9)]);
      names.push(rnd() < 0.1 ? allocators[Math.floor(rnd() * allocators.length)]! : `f${Math.floor(rnd() * 50)}`);
    }
    const ref = referenceLocations(calls, names);
    const b = new ReportDataBuilder();
    const at: number[] = [];
    calls.forEach(([node, thread, allocator, bytes, count], i) => {
      b.string(names[i]!);
      at.push(b.add(node, thread, allocator, bytes, count));
    });
    const data = b.build({} as never);
    assert.deepEqual(at, ref.at);
    assert.deepEqual(data.strings, ref.strings);
    assert.deepEqual(
      [...data.locations.node],
      ref.loc.map((l) => l.node),
    );
    assert.deepEqual(
      [...data.locations.thread],
      ref.loc.map((l) => l.thread),
    );
    assert.deepEqual(
      [...data.locations.allocator],
      ref.loc.map((l) => l.allocator),
    );
    assert.deepEqual(
      [...data.locations.bytes],
      ref.loc.map((l) => l.bytes),
    );
    assert.deepEqual(
      [...data.locations.count],
      ref.loc.map((l) => l.count),
    );
  }
});

test('node() gives a (parent, frame) its node once, in the order first asked', () => {
  const rnd = prng(5);
  const b = new ReportDataBuilder();
  const ref = new Map<string, number>([['-1:-1', 0]]);
  for (let i = 0; i < 30_000; i++) {
    const parent = Math.floor(rnd() * Math.min(ref.size, 5000));
    const frame = Math.floor(rnd() * 40);
    const key = `${parent}:${frame}`;
    const want = ref.get(key) ?? ref.size;
    if (!ref.has(key)) ref.set(key, want);
    assert.equal(b.node(parent, frame), want);
  }
  assert.equal(b.nodeCount, ref.size);
});
