// A site's stack as a path of a trie of the frames a report shows: (parent path, key of a shown frame) -> path,
// one Python stack node at a time (each node once, whatever the number of sites under it), and once per
// (Python node, native node) pair for sites with native frames. Sites whose shown stacks are the same get the
// same path: a number, without a string or an array per site.
//
// Two users: stacksOf() (stacks.ts), keyed by frame id, which every report and the live view run over up to
// ~1-3 M nodes; and the csv export (report/export/text-exports.ts), keyed by the frame's csv text number, where
// a frame whose text holds the separator `|` poisons its stack (path -1: written from its own text instead).

import type { FrameFilter, ReadonlyFrameTable } from '../model/frames.js';
import { type FrameId, NO_PY_NODE, type NativeNodeId1, type PyNodeId1 } from '../model/ids.js';
import type { TupleInterner } from '../model/tuple-interner.js';

/** A path of the trie: 0 the empty stack, p > 0 the trie's tuple p - 1 (parent path, key); -1 a poisoned stack. */
export type StackPath = number;

export class StackPaths {
  /**
   * Python node -> 1 + its path (0: not met yet; a poisoned node's path -1 is stored as 0 too, and is found
   * again at once through its ancestor). Not filled with -1 for "not met": the array is one slot per node of the
   * capture (12.4 MiB on call_sites), and a fill writes every page where the zeros of a fresh array are pages
   * never touched, so only the nodes the set's sites climb through cost memory.
   */
  private readonly pathOfNode: Int32Array;
  private readonly climb: PyNodeId1[] = [];
  private readonly pathOfPair = new Map<string, StackPath>();

  /**
   * `trie`: a TupleInterner of width 2 (parent path, key). `keyOf`: a shown frame's key in the trie, or -1 to
   * poison the stack; without it, the frame id itself (no call per node on stacksOf()'s path).
   */
  constructor(
    private readonly frames: ReadonlyFrameTable,
    private readonly filter: FrameFilter,
    readonly trie: TupleInterner,
    private readonly keyOf?: (frame: FrameId) => number,
  ) {
    this.pathOfNode = new Int32Array(frames.pyNodeCount + 1);
    this.pathOfNode[NO_PY_NODE] = 1;
  }

  /** The path of the stack (py, native): native 0 for a Python-only stack. */
  of(py: PyNodeId1, native: NativeNodeId1): StackPath {
    return native === 0 ? this.python(py) : this.pair(py, native);
  }

  private python(node: PyNodeId1): StackPath {
    const frames = this.frames;
    const pathOfNode = this.pathOfNode;
    const climb = this.climb;
    let m = node;
    while (pathOfNode[m] === 0) {
      climb.push(m);
      m = frames.pyParentOf(m);
    }
    let path = pathOfNode[m]! - 1;
    while (climb.length > 0) {
      const c = climb.pop()!;
      if (path >= 0) {
        const f = frames.pyFrameOf(c);
        if (frames.visible(f, this.filter)) {
          const k = this.keyOf === undefined ? f : this.keyOf(f);
          path = k < 0 ? -1 : this.trie.intern(path, k) + 1;
        }
      }
      pathOfNode[c] = path + 1;
    }
    return path;
  }

  private pair(py: PyNodeId1, native: NativeNodeId1): StackPath {
    const key = `${py}:${native}`;
    let path = this.pathOfPair.get(key);
    if (path === undefined) {
      path = 0;
      for (const f of this.frames.stack(py, native, this.filter)) {
        const k = this.keyOf === undefined ? f : this.keyOf(f);
        if (k < 0) {
          path = -1;
          break;
        }
        path = this.trie.intern(path, k) + 1;
      }
      this.pathOfPair.set(key, path);
    }
    return path;
  }
}
