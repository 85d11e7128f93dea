import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CallTree, CallTreeNode } from '../analysis/call-tree.js';
import type { Frame } from '../model/frames.js';
import type { FrameId } from '../model/ids.js';
import { type TreeViewState, drawTree, initialState, pressKey, visibleRows } from './tree-view.js';
import { toTerminal } from '../util/terminal-text.js';

// root → a → b → {c, d}; root → e
function tree(): CallTree {
  const mk = (id: number, parent: number, frame: number, bytes: number, self: number, children: number[]): CallTreeNode => ({
    id,
    parent,
    frame: frame as FrameId,
    bytes,
    count: 1,
    selfBytes: self,
    selfCount: self > 0 ? 1 : 0,
    children,
  });
  const nodes = [mk(0, -1, -1, 100, 0, [1, 5]), mk(1, 0, 0, 90, 0, [2]), mk(2, 1, 1, 90, 0, [3, 4]), mk(3, 2, 2, 60, 60, []), mk(4, 2, 3, 30, 30, []), mk(5, 0, 4, 10, 10, [])];
  const frames = new Map<FrameId, Frame>(
    ['a', 'b', 'c', 'd', 'e'].map((name, i) => [i as FrameId, { id: i as FrameId, function: name, file: '/srv/app/m.py', line: i + 1, kind: 'user', native: false, module: 'm', moduleType: 'project' }]),
  );
  return { nodes, frames, stacks: 3, omittedStacks: 0, omittedBytes: 0 };
}

function redraw(s: TreeViewState, key: Parameters<typeof pressKey>[1]): TreeViewState {
  const a = pressKey(s, key, 10);
  assert.equal(a.kind, 'redraw');
  return (a as { state: TreeViewState }).state;
}

test('the first screen opens the root and the chain under it; keys move, open and close', () => {
  let s = initialState(tree());
  // root open, its two children shown; a is not opened (the root has two children).
  assert.deepEqual(
    visibleRows(s).map((r) => r.node.id),
    [0, 1, 5],
  );
  s = redraw(s, 'down');
  s = redraw(s, 'expand-chain'); // a → b (b has two children: stop there, open)
  assert.deepEqual(
    visibleRows(s).map((r) => r.node.id),
    [0, 1, 2, 3, 4, 5],
  );
  s = redraw(s, 'down');
  s = redraw(s, 'close'); // close b
  assert.deepEqual(
    visibleRows(s).map((r) => r.node.id),
    [0, 1, 2, 5],
  );
  s = redraw(s, 'close'); // b is closed: go to its parent
  assert.equal(visibleRows(s)[s.cursor]?.node.id, 1);
  assert.equal(pressKey(s, 'quit', 10).kind, 'quit');
  assert.deepEqual(pressKey(s, 'toggle-imports', 10), { kind: 'rebuild', toggle: 'imports' });
});

test('drawing marks the cursor, shows open and closed nodes and scrolls with the cursor', () => {
  let s = initialState(tree());
  const lines = drawTree(s, { width: 80, height: 10, cwd: '/srv/app', total: 100 });
  assert.equal(lines.length, 3);
  assert.equal(toTerminal(lines[0]!), '\u001b[7m▾ 100 B 100.00%  <all: 3 stacks>\u001b[27m');
  assert.match(lines[1]!, /^ {2}▸ 90 B 90\.00% {2}a at m\.py:1$/);
  assert.match(lines[2]!, /^ {3} 10 B 10\.00% {2}e at m\.py:5 {2}own 10 B in 1$/);
  s = redraw(redraw(s, 'down'), 'expand-chain');
  for (let i = 0; i < 5; i++) s = pressKey(s, 'down', 2).kind === 'redraw' ? (pressKey(s, 'down', 2) as { state: TreeViewState }).state : s;
  assert.equal(s.cursor, 5);
  assert.equal(s.top, 4);
  assert.equal(drawTree(s, { width: 80, height: 2, cwd: '', total: 100 }).length, 2);
});
