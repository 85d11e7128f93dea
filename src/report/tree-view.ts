// The interactive tree's state and drawing, without a terminal: which nodes are open, where the cursor
// is, what a key does, and the screen as lines. src/cli/commands/tree.tui.ts feeds it keys and paints its lines.
//
// Keys (memray's tree where it has one): ↑/↓ (k/j) move, → (l, enter) opens, ← (h) closes or goes to the
// parent, e opens down a chain until a node has more than one child, i shows or hides import-system frames,
// u shows or hides interpreter and bootstrap frames, q quits.

import type { CallTree, CallTreeNode } from '../analysis/call-tree.js';
import { type Paint, noPaint, shareColour } from '../util/paint.js';
import { truncateLocation } from '../util/text.js';
import { formatBytes, formatCount, formatPercent } from '../util/units.js';
import { frameText } from './tree.js';
import { control } from '../util/terminal-text.js';

export type TreeKey = 'up' | 'down' | 'open' | 'close' | 'expand-chain' | 'toggle-imports' | 'toggle-internal' | 'quit' | 'page-up' | 'page-down';

export interface TreeViewState {
  readonly tree: CallTree;
  readonly open: ReadonlySet<number>;
  readonly cursor: number;
  /** First visible row (scrolling). */
  readonly top: number;
}

/** What the caller must do after a key: redraw, rebuild the tree with other frames shown, or quit. */
export type TreeAction = { readonly kind: 'redraw'; readonly state: TreeViewState } | { readonly kind: 'rebuild'; readonly toggle: 'imports' | 'internal' } | { readonly kind: 'quit' };

export function initialState(tree: CallTree): TreeViewState {
  // Open the root and the chain below it, so the first screen shows where the memory goes.
  const open = new Set<number>([0]);
  openChain(tree, 0, open);
  return { tree, open, cursor: 0, top: 0 };
}

function openChain(tree: CallTree, from: number, open: Set<number>): void {
  let n = tree.nodes[from]!;
  while (n.children.length === 1) {
    open.add(n.id);
    n = tree.nodes[n.children[0]!]!;
  }
  open.add(n.id);
}

interface Row {
  readonly node: CallTreeNode;
  readonly depth: number;
}

export function visibleRows(state: TreeViewState): Row[] {
  const rows: Row[] = [];
  // An explicit stack: the tree is as deep as the program's deepest stack (10,000 frames is a real case).
  const stack: Row[] = [{ node: state.tree.nodes[0]!, depth: 0 }];
  while (stack.length > 0) {
    const row = stack.pop()!;
    rows.push(row);
    if (!state.open.has(row.node.id)) continue;
    const children = row.node.children;
    for (let i = children.length - 1; i >= 0; i--) stack.push({ node: state.tree.nodes[children[i]!]!, depth: row.depth + 1 });
  }
  return rows;
}

/** Two spaces a level, up to a third of the width; deeper rows say their depth instead: `[9,997]   …`. */
function indentOf(depth: number, width: number): string {
  const maxLevels = Math.max(4, Math.floor(width / 6));
  if (depth <= maxLevels) return '  '.repeat(depth);
  // The depth takes the place of the first four levels (eight columns): deeper rows stay in line.
  return `${`[${formatCount(depth)}]`.padEnd(7)} ${'  '.repeat(maxLevels - 4)}`;
}

export function pressKey(state: TreeViewState, key: TreeKey, height: number): TreeAction {
  const rows = visibleRows(state);
  const at = rows[state.cursor]?.node;
  let cursor = state.cursor;
  const open = new Set(state.open);
  switch (key) {
    case 'quit':
      return { kind: 'quit' };
    case 'toggle-imports':
      return { kind: 'rebuild', toggle: 'imports' };
    case 'toggle-internal':
      return { kind: 'rebuild', toggle: 'internal' };
    case 'up':
      cursor = Math.max(0, cursor - 1);
      break;
    case 'down':
      cursor = Math.min(rows.length - 1, cursor + 1);
      break;
    case 'page-up':
      cursor = Math.max(0, cursor - Math.max(1, height - 1));
      break;
    case 'page-down':
      cursor = Math.min(rows.length - 1, cursor + Math.max(1, height - 1));
      break;
    case 'open':
      if (at !== undefined && at.children.length > 0) open.add(at.id);
      break;
    case 'expand-chain':
      if (at !== undefined) openChain(state.tree, at.id, open);
      break;
    case 'close':
      if (at !== undefined && open.has(at.id) && at.children.length > 0) open.delete(at.id);
      else if (at !== undefined && at.parent >= 0) cursor = rows.findIndex((r) => r.node.id === at.parent);
      break;
  }
  let top = state.top;
  if (cursor < top) top = cursor;
  if (cursor >= top + height) top = cursor - height + 1;
  return { kind: 'redraw', state: { tree: state.tree, open, cursor, top } };
}

export interface DrawOptions {
  readonly width: number;
  /** Rows for the tree (the screen minus the header and the key line). */
  readonly height: number;
  readonly cwd: string;
  readonly total: number;
  readonly paint?: Paint;
}

/** The tree part of the screen: `height` lines at most, the cursor's line marked. */
export function drawTree(state: TreeViewState, options: DrawOptions): string[] {
  const paint = options.paint ?? noPaint;
  const rows = visibleRows(state);
  const out: string[] = [];
  for (let i = state.top; i < Math.min(rows.length, state.top + options.height); i++) {
    const { node, depth } = rows[i]!;
    const mark = node.children.length === 0 ? ' ' : state.open.has(node.id) ? '▾' : '▸';
    const amount = `${formatBytes(node.bytes)} ${formatPercent(node.bytes, options.total)}`;
    const own = node.selfBytes > 0 ? `  own ${formatBytes(node.selfBytes)} in ${formatCount(node.selfCount)}` : '';
    const label = node.frame === -1 ? `<all: ${formatCount(state.tree.stacks)} stacks>` : frameText(state.tree.frames.get(node.frame), options.cwd);
    const indent = indentOf(depth, options.width);
    const room = Math.max(16, options.width - indent.length - amount.length - own.length - 4);
    const line = `${indent}${mark} ${paint(shareColour(options.total === 0 ? 0 : node.bytes / options.total), amount)}  ${truncateLocation(label, room)}${paint('dim', own)}`;
    out.push(i === state.cursor ? `${control('reverse')}${line}${control('reverseOff')}` : line);
  }
  return out;
}

export const KEY_HELP = '↑↓ move  → open  ← close  e open chain  i import frames  u interpreter frames  q quit';
