// The call tree of a set of stacks: plain data (a flat node list with parent and child ids) shared by
// `memlens tree`, the folded export and the HTML flame graph. A node's bytes include its descendants';
// `selfBytes` are allocations made with the node's frame on top.

import type { Frame } from '../model/frames.js';
import type { FrameId } from '../model/ids.js';
import type { CaptureModel } from '../model/model.js';
import type { StackAmount } from './stacks.js';

export interface CallTreeNode {
  readonly id: number;
  /** -1 for the root. */
  readonly parent: number;
  /** Frame id (model.frames); -1 for the root. */
  readonly frame: FrameId | -1;
  bytes: number;
  count: number;
  selfBytes: number;
  selfCount: number;
  readonly children: number[];
}

export interface CallTree {
  /** nodes[0] is the root (all of the set). Children are sorted by bytes, largest first. */
  readonly nodes: readonly CallTreeNode[];
  /** The frames the nodes refer to, by frame id (sparse: only those used). */
  readonly frames: ReadonlyMap<FrameId, Frame>;
  /** Stacks in the tree. */
  readonly stacks: number;
  /** Stacks left out by `maxStacks`, and their bytes. */
  readonly omittedStacks: number;
  readonly omittedBytes: number;
}

export interface CallTreeOptions {
  /** Keep only the N largest stacks (memray's `tree -b N`). */
  readonly maxStacks?: number | undefined;
}

export function callTree(model: CaptureModel, stacks: readonly StackAmount[], options: CallTreeOptions = {}): CallTree {
  const sorted = [...stacks].sort((a, b) => b.bytes - a.bytes || b.count - a.count);
  const kept = options.maxStacks !== undefined ? sorted.slice(0, options.maxStacks) : sorted;
  let omittedBytes = 0;
  for (let i = kept.length; i < sorted.length; i++) omittedBytes += sorted[i]!.bytes;

  const nodes: CallTreeNode[] = [{ id: 0, parent: -1, frame: -1, bytes: 0, count: 0, selfBytes: 0, selfCount: 0, children: [] }];
  const childIndex = new Map<string, number>();
  const frames = new Map<FrameId, Frame>();
  for (const st of kept) {
    let node = nodes[0]!;
    node.bytes += st.bytes;
    node.count += st.count;
    for (const f of st.frames) {
      const key = `${node.id}:${f}`;
      let child = childIndex.get(key);
      if (child === undefined) {
        child = nodes.length;
        nodes.push({ id: child, parent: node.id, frame: f, bytes: 0, count: 0, selfBytes: 0, selfCount: 0, children: [] });
        node.children.push(child);
        childIndex.set(key, child);
        if (!frames.has(f)) frames.set(f, model.frames.frame(f));
      }
      node = nodes[child]!;
      node.bytes += st.bytes;
      node.count += st.count;
    }
    node.selfBytes += st.bytes;
    node.selfCount += st.count;
  }
  for (const n of nodes) n.children.sort((a, b) => nodes[b]!.bytes - nodes[a]!.bytes || a - b);
  return { nodes, frames, stacks: kept.length, omittedStacks: sorted.length - kept.length, omittedBytes };
}
