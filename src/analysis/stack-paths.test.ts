import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_FRAME_FILTER, type ReadonlyFrameTable } from '../model/frames.js';
import type { FrameId, NativeNodeId1, PyNodeId1 } from '../model/ids.js';
import { TupleInterner } from '../model/tuple-interner.js';
import { StackPaths } from './stack-paths.js';

// A frame table of Python nodes given as [frame, parent] (node i + 1 is row i), native node n's frame 100 + n
// under the Python stack; frames >= 50 hidden. Counts the parent reads, to show each node is climbed once.
function table(nodes: readonly (readonly [frame: number, parent: number])[]): ReadonlyFrameTable & { parentReads: number } {
  const t = {
    parentReads: 0,
    frames: [],
    pyNodeCount: nodes.length,
    unknownCodes: 0,
    pyFrameOf: (n: PyNodeId1) => nodes[n - 1]![0] as FrameId,
    pyParentOf: (n: PyNodeId1) => {
      t.parentReads++;
      return nodes[n - 1]![1] as PyNodeId1;
    },
    nativeFrameOf: (n: NativeNodeId1) => (100 + n) as FrameId,
    nativeParentOf: () => 0 as NativeNodeId1,
    frame: () => {
      throw new Error('not read');
    },
    visible: (id: FrameId) => id < 50 || id >= 100,
    stack: (py: PyNodeId1, native: NativeNodeId1) => {
      const out: FrameId[] = [];
      for (let n = py; n > 0; n = nodes[n - 1]![1] as PyNodeId1) if (nodes[n - 1]![0] < 50) out.unshift(nodes[n - 1]![0] as FrameId);
      if (native > 0) out.push((100 + native) as FrameId);
      return out;
    },
    moduleOfStack: () => '',
  };
  return t;
}

const py = (n: number): PyNodeId1 => n as PyNodeId1;
const nat = (n: number): NativeNodeId1 => n as NativeNodeId1;

test('stacks that show the same frames get one path; each node is climbed once', () => {
  // 1: frame 1 (root); 2: frame 60 (hidden) under 1; 3: frame 2 under 2; 4: frame 2 under 1; 5: frame 3 under 1.
  const t = table([
    [1, 0],
    [60, 1],
    [2, 2],
    [2, 1],
    [3, 1],
  ]);
  const trie = new TupleInterner(2, 16);
  const paths = new StackPaths(t, DEFAULT_FRAME_FILTER, trie);
  const a = paths.of(py(3), nat(0));
  const b = paths.of(py(4), nat(0));
  assert.equal(a, b);
  assert.notEqual(paths.of(py(5), nat(0)), a);
  assert.equal(paths.of(py(0), nat(0)), 0);
  // The path spells the shown frames, leaf last: (path of [1], 2).
  assert.equal(trie.get(a - 1, 1), 2);
  assert.equal(trie.get(trie.get(a - 1, 0) - 1, 1), 1);
  const reads = t.parentReads;
  assert.equal(paths.of(py(3), nat(0)), a);
  assert.equal(t.parentReads, reads, 'a node met before is not climbed again');
  assert.equal(reads, 5, 'each of the five nodes climbed once');
});

test('a key of -1 poisons the stack below it, not its siblings', () => {
  // 1: frame 1; 2: frame 7 (poisoned) under 1; 3: frame 2 under 2; 4: frame 2 under 1.
  const t = table([
    [1, 0],
    [7, 1],
    [2, 2],
    [2, 1],
  ]);
  const keys: number[] = [];
  const paths = new StackPaths(t, DEFAULT_FRAME_FILTER, new TupleInterner(2, 16), (f) => {
    keys.push(f);
    return f === 7 ? -1 : f * 10;
  });
  assert.equal(paths.of(py(3), nat(0)), -1);
  assert.equal(paths.of(py(3), nat(0)), -1, 'still poisoned when met again');
  assert.ok(paths.of(py(4), nat(0)) > 0);
  assert.ok(!keys.includes(2) || keys.indexOf(2) > keys.indexOf(7), 'no key asked below the poisoned frame before it');
  assert.equal(paths.of(py(1), nat(0)), paths.of(py(1), nat(0)));
});

test('a (Python, native) pair has a path of its own, the same as a Python stack showing the same keys', () => {
  // 1: frame 1; 2: frame 101 (a Python frame numbered as native node 1's frame would be) under 1.
  const t = table([
    [1, 0],
    [101, 1],
  ]);
  const paths = new StackPaths(t, DEFAULT_FRAME_FILTER, new TupleInterner(2, 16));
  const pair = paths.of(py(1), nat(1));
  assert.equal(pair, paths.of(py(2), nat(0)));
  assert.equal(paths.of(py(1), nat(1)), pair);
  const poisoned = new StackPaths(t, DEFAULT_FRAME_FILTER, new TupleInterner(2, 16), (f) => (f >= 100 ? -1 : f));
  assert.equal(poisoned.of(py(1), nat(1)), -1);
  assert.ok(poisoned.of(py(1), nat(0)) > 0);
});
