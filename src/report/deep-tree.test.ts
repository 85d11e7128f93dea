// Call trees as deep as a program's deepest stack: the printed tree and the terminal view walk them without
// recursion and keep every line within the width however deep the node (a 10,000-deep Python recursion is a
// real case; test/deep-stack.test.ts runs one through every command).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CallTree, CallTreeNode } from '../analysis/call-tree.js';
import type { Frame } from '../model/frames.js';
import type { FrameId } from '../model/ids.js';
import { renderTree } from './tree.js';
import { drawTree, initialState, visibleRows } from './tree-view.js';
import { withoutControls } from '../util/terminal-text.js';

const DEPTH = 200_000;

/** A chain of DEPTH frames under the root, with a second, short branch at depth 2 (so guides matter). */
function deepChain(): CallTree {
  const frame: Frame = { id: 0 as FrameId, function: 'down', file: '/srv/app/deep.py', line: 9, kind: 'user', native: false, module: 'deep', moduleType: 'project' };
  const nodes: CallTreeNode[] = [];
  for (let i = 0; i <= DEPTH; i++) {
    nodes.push({ id: i, parent: i - 1, frame: i === 0 ? -1 : (0 as FrameId), bytes: 200, count: 2, selfBytes: i === DEPTH ? 100 : 0, selfCount: i === DEPTH ? 1 : 0, children: i < DEPTH ? [i + 1] : [] });
  }
  const side = DEPTH + 1;
  nodes.push({ id: side, parent: 2, frame: 0 as FrameId, bytes: 100, count: 1, selfBytes: 100, selfCount: 1, children: [] });
  nodes[2]!.children.push(side);
  return { nodes, frames: new Map([[0 as FrameId, frame]]), stacks: 2, omittedStacks: 0, omittedBytes: 0 };
}

test('the printed tree of a 200,000-deep chain: every node, in order, no line wider than the terminal', () => {
  const tree = deepChain();
  const lines = renderTree(tree, { width: 100, cwd: '/srv/app' });
  assert.equal(lines.length, DEPTH + 2);
  for (const l of lines) assert.ok([...l].length <= 100, `${l.length} columns: ${l.slice(0, 120)}`);
  // The side branch comes after the whole chain below depth 2, with the guide of depth 2's last child.
  assert.match(lines[3]!, /^ {6}├─ 200 B/);
  assert.match(lines[4]!, /^ {6}│ {2}└─ 200 B/);
  assert.match(lines[DEPTH + 1]!, /^ {6}└─ 100 B/);
  // Deep lines name their depth in place of the outer guides, and keep the connector where it was.
  const deepest = lines[DEPTH]!;
  assert.match(deepest, /^\[200,000\] +└─ 200 B/);
  assert.equal(deepest.indexOf('└─'), lines[DEPTH - 1]!.indexOf('└─'));
});

test('the terminal view opens a 200,000-deep chain and draws its deepest rows within the width', () => {
  const tree = deepChain();
  const state = { ...initialState(tree), open: new Set(tree.nodes.map((n) => n.id)) };
  const rows = visibleRows(state);
  assert.equal(rows.length, DEPTH + 2);
  assert.equal(rows[DEPTH]!.depth, DEPTH);
  const bottom = { ...state, cursor: DEPTH, top: DEPTH - 5 };
  const drawn = drawTree(bottom, { width: 80, height: 6, cwd: '/srv/app', total: 200 });
  assert.equal(drawn.length, 6);
  // The cursor's row is drawn reversed: markers of memlens's own sequences, no columns.
  for (const l of drawn) assert.ok([...withoutControls(l)].length <= 80, l);
  assert.match(drawn[5]!, /\[200,000\]/);
});
