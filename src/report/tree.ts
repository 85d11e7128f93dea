// `memlens tree` printed: the call tree of the biggest allocation paths, one line per node, with its
// memory, its share of the root and (for allocating frames) its own memory and allocation count.
// Chains of single children are kept (each line is a frame), but the width is held by cutting the
// frame text, never the numbers.

import type { CallTree, CallTreeNode } from '../analysis/call-tree.js';
import type { Frame } from '../model/frames.js';
import { type Paint, noPaint, shareColour } from '../util/paint.js';
import { displayPath, truncateLocation } from '../util/text.js';
import { formatBytes, formatCount, formatPercent } from '../util/units.js';

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
  if (f.native) return f.function;
  const file = displayPath(f.file, cwd);
  return f.line > 0 ? `${f.function} at ${file}:${f.line}` : `${f.function} at ${file}`;
}

export function renderTree(tree: CallTree, options: TreeTextOptions): string[] {
  const paint = options.paint ?? noPaint;
  const nodes = tree.nodes;
  const root = nodes[0]!;
  const total = options.total ?? root.bytes;
  const lines: string[] = [];
  const maxLines = options.maxLines ?? Infinity;
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
  const walk = (id: number, prefix: string, childPrefix: string): void => {
    if (lines.length >= maxLines) {
      cut++;
      return;
    }
    const n = nodes[id]!;
    line(n, prefix);
    n.children.forEach((c, i) => {
      const last = i === n.children.length - 1;
      walk(c, childPrefix + (last ? '└─ ' : '├─ '), childPrefix + (last ? '   ' : '│  '));
    });
  };
  walk(0, '', '');
  if (cut > 0) lines.push(paint('dim', `… ${formatCount(cut)} more node${cut === 1 ? '' : 's'} (the terminal view can expand them)`));
  if (tree.omittedStacks > 0) {
    lines.push(paint('dim', `${formatCount(tree.omittedStacks)} smaller stack${tree.omittedStacks === 1 ? '' : 's'} (${formatBytes(tree.omittedBytes)}) left out: -n shows more.`));
  }
  return lines;
}
