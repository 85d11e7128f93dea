// `memlens tree` printed: the call tree of the biggest allocation paths, one line per node, with its
// memory, its share of the root and (for allocating frames) its own memory and allocation count.
// Chains of single children are kept (each line is a frame), but the width is held by cutting the
// frame text, never the numbers.

import type { CallTree, CallTreeNode } from '../analysis/call-tree.js';
import type { Frame } from '../model/frames.js';
import { type Paint, noPaint, shareColour } from '../util/paint.js';
import { displayPath, truncateLocation } from '../util/text.js';
import { formatBytes, formatCount, formatPercent } from '../util/units.js';
import { escapeLine } from '../util/terminal-text.js';

export interface TreeTextOptions {
  readonly width: number;
  readonly cwd: string;
  readonly paint?: Paint;
  /** Lines printed at most (the tree is cut with a note past it). */
  readonly maxLines?: number;
  /** Shares are of this (the whole set), not only of the stacks the tree kept. */
  readonly total?: number;
}

export function frameText(f: Frame | undefined, cwd: string): string {
  if (f === undefined) return '<no Python stack>';
  const fn = escapeLine(f.function);
  if (f.native) return fn;
  const file = escapeLine(displayPath(f.file, cwd));
  return f.line > 0 ? `${fn} at ${file}:${f.line}` : `${fn} at ${file}`;
}

/**
 * The guide in front of a node `depth` levels down: the ancestors' guides (`│  ` or three spaces each), then
 * `├─ ` or `└─ `. Past `maxLevels` levels only the nearest ones are drawn, after the depth in brackets, so
 * a 10,000-deep recursion prints lines as wide as a shallow one: `[9,997]  │  │  └─ `.
 */
function guidePrefix(guides: readonly string[], depth: number, last: boolean, maxLevels: number): string {
  if (depth === 0) return '';
  const connector = last ? '└─ ' : '├─ ';
  const above = depth - 1;
  if (above <= maxLevels) return guides.slice(0, above).join('') + connector;
  // The depth takes the place of three levels of guides (nine columns), so the connectors stay in line.
  const shown = maxLevels - 3;
  return `${`[${formatCount(depth)}]`.padEnd(8)} ${guides.slice(above - shown, above).join('')}${connector}`;
}

export function renderTree(tree: CallTree, options: TreeTextOptions): string[] {
  const paint = options.paint ?? noPaint;
  const nodes = tree.nodes;
  const root = nodes[0]!;
  const total = options.total ?? root.bytes;
  const lines: string[] = [];
  const maxLines = options.maxLines ?? Infinity;
  // Guides take at most a third of the width.
  const maxLevels = Math.max(4, Math.floor(options.width / 9));
  let cut = 0;
  const label = (n: CallTreeNode): string => {
    if (n.frame === -1) return tree.omittedStacks > 0 ? `<the ${formatCount(tree.stacks)} biggest stacks>` : '<all>';
    return frameText(tree.frames.get(n.frame), options.cwd);
  };
  const line = (n: CallTreeNode, prefix: string): void => {
    const amount = `${formatBytes(n.bytes)} ${formatPercent(n.bytes, total)}`;
    const own = n.selfBytes > 0 ? `  (own ${formatBytes(n.selfBytes)}, ${formatCount(n.selfCount)} allocation${n.selfCount === 1 ? '' : 's'})` : '';
    const room = Math.max(20, options.width - prefix.length - amount.length - own.length - 2);
    const text = truncateLocation(label(n), room);
    lines.push(`${prefix}${paint(shareColour(total === 0 ? 0 : n.bytes / total), amount)}  ${text}${paint('dim', own)}`);
  };
  // Depth first with an explicit stack: the tree is as deep as the profiled program's deepest stack, and a
  // recursion of the program's must not become one of ours. guides[d] is the guide of the ancestor at
  // depth d + 1 for the lines below it (`│  ` while it has siblings to come, else spaces).
  const guides: string[] = [];
  const stack: { readonly id: number; readonly depth: number; readonly last: boolean }[] = [{ id: 0, depth: 0, last: true }];
  while (stack.length > 0) {
    const { id, depth, last } = stack.pop()!;
    if (lines.length >= maxLines) {
      cut++;
      continue;
    }
    const n = nodes[id]!;
    guides.length = Math.max(0, depth - 1);
    line(n, guidePrefix(guides, depth, last, maxLevels));
    if (depth > 0) guides[depth - 1] = last ? '   ' : '│  ';
    for (let i = n.children.length - 1; i >= 0; i--) stack.push({ id: n.children[i]!, depth: depth + 1, last: i === n.children.length - 1 });
  }
  if (cut > 0) lines.push(paint('dim', `… ${formatCount(cut)} more node${cut === 1 ? '' : 's'} (the terminal view can expand them)`));
  if (tree.omittedStacks > 0) {
    lines.push(paint('dim', `${formatCount(tree.omittedStacks)} smaller stack${tree.omittedStacks === 1 ? '' : 's'} (${formatBytes(tree.omittedBytes)}) left out: -n shows more.`));
  }
  return lines;
}
