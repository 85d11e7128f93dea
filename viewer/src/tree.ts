// The tree the flame graph draws, built from the payload's stack prefix tree and per-location values.
// Pure (no DOM): unit-tested in Node, and timed in bench/viewer.
//
// Hidden frames are merged into their parent (their bytes stay in the parent's total, as memray does), so
// two stacks that differ only in hidden frames become one path. Inverted trees put the allocating frame at
// the root and its callers below it.

import type { ReportData } from '../../src/report/html/payload.js';

export interface TreeOptions {
  readonly inverted: boolean;
  /** FrameFlag bits: a frame with any of them is hidden. */
  readonly hideMask: number;
}

/** A built tree in columns. Node 0 is the root (frame -1). Children are sorted by total, largest first. */
export interface FlameTree {
  readonly size: number;
  readonly frame: Int32Array;
  readonly parent: Int32Array;
  readonly depth: Int32Array;
  /** Bytes of this node and everything below it. */
  readonly total: Float64Array;
  /** Bytes allocated by this node itself (inverted: by the outermost caller, which ends a path). */
  readonly self: Float64Array;
  readonly count: Float64Array;
  /** Children of node i are childList[childStart[i] … childStart[i + 1]). */
  readonly childStart: Int32Array;
  readonly childList: Int32Array;
  readonly maxDepth: number;
}

/** Per-location values of the current view (after the thread filter and time window). */
export interface LocationValues {
  readonly bytes: Float64Array;
  readonly count: Float64Array;
}

class TreeBuilder {
  frame: Int32Array;
  parent: Int32Array;
  total: Float64Array;
  self: Float64Array;
  count: Float64Array;
  size = 1;
  // (parent, frame) → child: open addressing over node ids (0 = empty slot; the root is never a child).
  // A Map keyed by parent * frames + frame was 10× slower: those keys are not small integers.
  private slots: Int32Array;
  private mask: number;

  constructor(capacity: number) {
    const n = Math.max(capacity, 16);
    this.frame = new Int32Array(n);
    this.parent = new Int32Array(n);
    this.total = new Float64Array(n);
    this.self = new Float64Array(n);
    this.count = new Float64Array(n);
    this.frame[0] = -1;
    this.parent[0] = -1;
    let cap = 1024;
    while (cap < n * 2) cap *= 2;
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
  }

  private static hash(parent: number, frame: number): number {
    return Math.imul(parent, 0x9e3779b1) ^ Math.imul(frame + 0x7f4a7c15, 0x85ebca6b);
  }

  child(parent: number, frame: number): number {
    let i = TreeBuilder.hash(parent, frame) & this.mask;
    for (;;) {
      const id = this.slots[i]!;
      if (id === 0) break;
      if (this.parent[id] === parent && this.frame[id] === frame) return id;
      i = (i + 1) & this.mask;
    }
    if (this.size === this.frame.length) this.grow();
    const id = this.size++;
    this.frame[id] = frame;
    this.parent[id] = parent;
    if (this.size * 2 > this.slots.length) this.rehash();
    else this.slots[i] = id;
    return id;
  }

  private rehash(): void {
    const cap = this.slots.length * 2;
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
    for (let id = 1; id < this.size; id++) {
      let i = TreeBuilder.hash(this.parent[id]!, this.frame[id]!) & this.mask;
      while (this.slots[i] !== 0) i = (i + 1) & this.mask;
      this.slots[i] = id;
    }
  }

  private grow(): void {
    const n = this.frame.length * 2;
    const f = new Int32Array(n);
    f.set(this.frame);
    this.frame = f;
    const p = new Int32Array(n);
    p.set(this.parent);
    this.parent = p;
    const t = new Float64Array(n);
    t.set(this.total);
    this.total = t;
    const s = new Float64Array(n);
    s.set(this.self);
    this.self = s;
    const c = new Float64Array(n);
    c.set(this.count);
    this.count = c;
  }

  finish(): FlameTree {
    const n = this.size;
    const frame = this.frame.slice(0, n);
    const parent = this.parent.slice(0, n);
    const total = this.total.slice(0, n);
    const self = this.self.slice(0, n);
    const count = this.count.slice(0, n);
    // Children sorted by total: counting sort into CSR, then sort each range.
    const childStart = new Int32Array(n + 1);
    for (let i = 1; i < n; i++) childStart[(parent[i] ?? 0) + 1]!++;
    for (let i = 0; i < n; i++) childStart[i + 1]! += childStart[i]!;
    const fill = childStart.slice(0, n);
    const childList = new Int32Array(Math.max(n - 1, 0));
    for (let i = 1; i < n; i++) childList[fill[parent[i]!]!++] = i;
    for (let i = 0; i < n; i++) {
      const a = childStart[i]!;
      const b = childStart[i + 1]!;
      if (b - a > 1) {
        const sorted = Array.from(childList.subarray(a, b)).sort((x, y) => total[y]! - total[x]! || frame[x]! - frame[y]!);
        childList.set(sorted, a);
      }
    }
    const depth = new Int32Array(n);
    let maxDepth = 0;
    for (let i = 1; i < n; i++) {
      const d = depth[parent[i]!]! + 1;
      depth[i] = d;
      if (d > maxDepth) maxDepth = d;
    }
    return { size: n, frame, parent, depth, total, self, count, childStart, childList, maxDepth };
  }
}

/** Sums location values per payload node. */
function valuesPerNode(data: ReportData, values: LocationValues): { bytes: Float64Array; count: Float64Array } {
  const nn = data.nodes.parent.length;
  const bytes = new Float64Array(nn);
  const count = new Float64Array(nn);
  const loc = data.locations.node;
  for (let i = 0; i < loc.length; i++) {
    const b = values.bytes[i]!;
    const c = values.count[i]!;
    if (b === 0 && c === 0) continue;
    bytes[loc[i]!]! += b;
    count[loc[i]!]! += c;
  }
  return { bytes, count };
}

export function buildTree(data: ReportData, values: LocationValues, options: TreeOptions): FlameTree {
  const { bytes, count } = valuesPerNode(data, values);
  return options.inverted ? buildInverted(data, bytes, count, options.hideMask) : buildCallers(data, bytes, count, options.hideMask);
}

function isHidden(data: ReportData, frame: number, hideMask: number): boolean {
  return frame < 0 || (data.frames.flags[frame]! & hideMask) !== 0;
}

function buildCallers(data: ReportData, bytes: Float64Array, count: Float64Array, hideMask: number): FlameTree {
  const parentOf = data.nodes.parent;
  const frameOf = data.nodes.frame;
  const nn = parentOf.length;
  // Only nodes on a path to a value are built: mark them, children before parents.
  const needed = new Uint8Array(nn);
  for (let i = nn - 1; i > 0; i--) {
    if (needed[i] === 1 || bytes[i] !== 0 || count[i] !== 0) {
      needed[i] = 1;
      needed[parentOf[i]!] = 1;
    }
  }
  const b = new TreeBuilder(1024);
  const map = new Int32Array(nn);
  for (let i = 1; i < nn; i++) {
    if (needed[i] === 0) continue;
    const up = map[parentOf[i]!]!;
    const f = frameOf[i]!;
    const t = isHidden(data, f, hideMask) ? up : b.child(up, f);
    map[i] = t;
    b.self[t]! += bytes[i]!;
    b.count[t]! += count[i]!;
  }
  b.self[0]! += bytes[0]!;
  b.count[0]! += count[0]!;
  // Totals: nodes are numbered parents first, so one backward pass sums children into parents.
  const totalCount = new Float64Array(b.size);
  for (let i = 0; i < b.size; i++) {
    b.total[i] = b.self[i]!;
    totalCount[i] = b.count[i]!;
  }
  for (let i = b.size - 1; i > 0; i--) {
    b.total[b.parent[i]!]! += b.total[i]!;
    totalCount[b.parent[i]!]! += totalCount[i]!;
  }
  b.count = totalCount;
  return b.finish();
}

/**
 * Inverted paths rarely merge (every leaf of a big program has its own chain of callers), so the tree can
 * be many times larger than the stack tree: it is built level by level, and a node smaller than
 * INVERTED_MIN_SHARE of the whole is not expanded (its bytes stay in its own total). Such a node is
 * 1/100,000 of the view: far below a pixel until zoomed 70-fold into it.
 */
export const INVERTED_MIN_SHARE = 1e-5;

function buildInverted(data: ReportData, bytes: Float64Array, count: Float64Array, hideMask: number): FlameTree {
  const parentOf = data.nodes.parent;
  const frameOf = data.nodes.frame;
  const b = new TreeBuilder(4096);
  // Entries: one per stack with a value, at its current caller position.
  let pos: number[] = [];
  let at: number[] = [];
  let val: number[] = [];
  let cnt: number[] = [];
  const visibleUp = (n: number): number => {
    while (n > 0 && isHidden(data, frameOf[n]!, hideMask)) n = parentOf[n]!;
    return n;
  };
  for (let i = 0; i < parentOf.length; i++) {
    const v = bytes[i]!;
    const c = count[i]!;
    if (v === 0 && c === 0) continue;
    b.total[0]! += v;
    b.count[0]! += c;
    const n = visibleUp(i);
    if (n === 0) {
      b.self[0]! += v;
      continue;
    }
    pos.push(n);
    at.push(0);
    val.push(v);
    cnt.push(c);
  }
  const minTotal = Math.abs(b.total[0]!) * INVERTED_MIN_SHARE;
  while (pos.length > 0) {
    const tnode = new Int32Array(pos.length);
    for (let e = 0; e < pos.length; e++) {
      const t = b.child(at[e]!, frameOf[pos[e]!]!);
      tnode[e] = t;
      b.total[t]! += val[e]!;
      b.count[t]! += cnt[e]!;
    }
    const nextPos: number[] = [];
    const nextAt: number[] = [];
    const nextVal: number[] = [];
    const nextCnt: number[] = [];
    for (let e = 0; e < pos.length; e++) {
      const t = tnode[e]!;
      const up = visibleUp(parentOf[pos[e]!]!);
      if (up === 0) {
        b.self[t]! += val[e]!;
        continue;
      }
      if (Math.abs(b.total[t]!) < minTotal) continue;
      nextPos.push(up);
      nextAt.push(t);
      nextVal.push(val[e]!);
      nextCnt.push(cnt[e]!);
    }
    pos = nextPos;
    at = nextAt;
    val = nextVal;
    cnt = nextCnt;
  }
  return b.finish();
}

/** The frames from the root down to `node` (root excluded): what a zoom remembers across rebuilds. */
export function framePath(tree: FlameTree, node: number): number[] {
  const path: number[] = [];
  for (let n = node; n > 0; n = tree.parent[n]!) path.push(tree.frame[n]!);
  return path.reverse();
}

/** The deepest node of `tree` that follows `path` from the root (0 when the first step is missing). */
export function findPath(tree: FlameTree, path: readonly number[]): number {
  let node = 0;
  for (const f of path) {
    let next = -1;
    for (let k = tree.childStart[node]!; k < tree.childStart[node + 1]!; k++) {
      if (tree.frame[tree.childList[k]!] === f) {
        next = tree.childList[k]!;
        break;
      }
    }
    if (next < 0) break;
    node = next;
  }
  return node;
}

/**
 * Bytes under matching frames, each counted once: a match below another match adds nothing (the outer one
 * already holds it). `matches[frame]` is 1 for a matching frame. `nodes` counts every matching node.
 */
export function matchedBytes(tree: FlameTree, matches: Uint8Array, root = 0): { bytes: number; nodes: number } {
  let bytes = 0;
  let nodes = 0;
  // Stack entries: node * 2 + (1 if an ancestor matched).
  const stack = [root * 2];
  while (stack.length > 0) {
    const e = stack.pop()!;
    const n = e >> 1;
    let inside = e & 1;
    if (n !== 0 && matches[tree.frame[n]!] === 1) {
      nodes++;
      if (inside === 0) bytes += tree.total[n]!;
      inside = 1;
    }
    for (let k = tree.childStart[n]!; k < tree.childStart[n + 1]!; k++) stack.push(tree.childList[k]! * 2 + inside);
  }
  return { bytes, nodes };
}
