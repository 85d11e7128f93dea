// Frames as reports see them: (function, file, line), interned, with what a filter needs to know about
// each (hidden kind, module). Python stack nodes and native stack nodes of the capture map to frames once,
// at the end of reading, when every CODE record has arrived.

import { type FrameKind, type ModuleType, type PathInfo, moduleOfFile, pythonFrameKind, topLevelPackage } from './frame-kinds.js';
import type { FrameId, NativeNodeId1, PyNodeId1 } from './ids.js';

export interface Frame {
  readonly id: FrameId;
  /** Qualified name for Python frames; `module+0xoffset` for native frames. */
  readonly function: string;
  readonly file: string;
  /** 0 when unknown (native frames). */
  readonly line: number;
  readonly kind: FrameKind;
  readonly native: boolean;
  /** Dotted module of the file, and where it lives (for "top modules"). */
  readonly module: string;
  readonly moduleType: ModuleType;
}

/** What a report shows of each stack. Defaults hide internal and import-system frames. */
export interface FrameFilter {
  readonly showInternal: boolean;
  readonly showImports: boolean;
}

export const DEFAULT_FRAME_FILTER: FrameFilter = { showInternal: false, showImports: false };

/** A stack walked from its innermost frame out, until `visit` returns true (analysis/stacks.ts). */
export interface WalkableStack {
  walk(visit: (id: FrameId) => boolean | void): void;
}

/** A FrameTable as the model hands it to analyses: reads only. */
export interface ReadonlyFrameTable {
  readonly frames: readonly Frame[];
  /** Python stack nodes mapped to frames: ids 1 to this. */
  readonly pyNodeCount: number;
  /** Frames whose code object never arrived (damaged capture). */
  readonly unknownCodes: number;
  /** The frame of a Python stack node, and the node of its caller (NO_PY_NODE for an outermost frame). */
  pyFrameOf(node: PyNodeId1): FrameId;
  pyParentOf(node: PyNodeId1): PyNodeId1;
  /** The same for native stack nodes. */
  nativeFrameOf(node: NativeNodeId1): FrameId;
  nativeParentOf(node: NativeNodeId1): NativeNodeId1;
  frame(id: FrameId): Frame;
  visible(id: FrameId, filter: FrameFilter): boolean;
  stack(pyNode: PyNodeId1, nativeNode: NativeNodeId1, filter: FrameFilter): FrameId[];
  moduleOfStack(stack: WalkableStack): string;
}

/** Filled in by the stack resolver (model/stack-resolver.ts). */
export class FrameTable implements ReadonlyFrameTable {
  private readonly byKey = new Map<string, FrameId>();
  readonly frames: Frame[] = [];
  /** Python stack node (global, 1-based) → frame id, and parent node; index 0 unused. */
  pyFrame: Int32Array = new Int32Array(1);
  pyParent: Int32Array = new Int32Array(1);
  nativeFrame: Int32Array = new Int32Array(1);
  nativeParent: Int32Array = new Int32Array(1);
  pyNodeCount = 0;
  /** Frames whose code object never arrived (damaged capture). */
  unknownCodes = 0;

  constructor(private readonly paths: PathInfo) {}

  pyFrameOf(node: PyNodeId1): FrameId {
    return this.pyFrame[node] as FrameId;
  }
  pyParentOf(node: PyNodeId1): PyNodeId1 {
    return this.pyParent[node] as PyNodeId1;
  }
  nativeFrameOf(node: NativeNodeId1): FrameId {
    return this.nativeFrame[node] as FrameId;
  }
  nativeParentOf(node: NativeNodeId1): NativeNodeId1 {
    return this.nativeParent[node] as NativeNodeId1;
  }

  intern(func: string, file: string, line: number, native: boolean, kind?: FrameKind): FrameId {
    const key = `${native ? 'n' : 'p'}\u0000${func}\u0000${file}\u0000${line}`;
    const found = this.byKey.get(key);
    if (found !== undefined) return found;
    const id = this.frames.length as FrameId;
    const mod = moduleOfFile(file, this.paths);
    this.frames.push({
      id,
      function: func,
      file,
      line,
      kind: kind ?? pythonFrameKind(func, file),
      native,
      module: mod.module,
      moduleType: mod.type,
    });
    this.byKey.set(key, id);
    return id;
  }

  frame(id: FrameId): Frame {
    const f = this.frames[id];
    if (f === undefined) throw new RangeError(`frame ${id} does not exist`);
    return f;
  }

  visible(id: FrameId, filter: FrameFilter): boolean {
    const kind = this.frame(id).kind;
    return kind === 'user' || (kind === 'internal' ? filter.showInternal : filter.showImports);
  }

  /**
   * The frames of a stack, root first: the Python frames, then the native frames past the interpreter's
   * last frame (the C code that Python called into: numpy, libc). Hidden frames are left out; their
   * allocations stay with the nearest shown caller.
   */
  stack(pyNode: PyNodeId1, nativeNode: NativeNodeId1, filter: FrameFilter): FrameId[] {
    const out: FrameId[] = [];
    for (let n = pyNode; n > 0; n = this.pyParentOf(n)) {
      const f = this.pyFrameOf(n);
      if (this.visible(f, filter)) out.push(f);
    }
    out.reverse();
    if (nativeNode > 0) {
      const native: FrameId[] = [];
      for (let n = nativeNode; n > 0; n = this.nativeParentOf(n)) native.push(this.nativeFrameOf(n));
      native.reverse();
      let from = 0;
      if (!filter.showInternal) {
        // Skip the interpreter's frames (the eval loop and its callers) up to the last one.
        for (let i = native.length - 1; i >= 0; i--) {
          if (this.frame(native[i]!).kind === 'internal') {
            from = i + 1;
            break;
          }
        }
      }
      for (let i = from; i < native.length; i++) out.push(native[i]!);
    }
    return out;
  }

  /** The top-level package of the innermost frame outside the stdlib (memray's "top modules"). */
  moduleOfStack(stack: WalkableStack): string {
    let name = '<root>';
    stack.walk((id) => {
      const m = moduleOfFrame(this.frame(id));
      if (m === undefined) return false;
      name = m;
      return true;
    });
    return name;
  }
}

/**
 * A frame's say in moduleOfStack() (the stack's module is its innermost frame's that has one): its top-level
 * package, or undefined for a native or standard-library frame, which the walk passes over.
 */
export function moduleOfFrame(f: Frame): string | undefined {
  return f.native || f.moduleType === 'stdlib' ? undefined : topLevelPackage(f.module);
}

/** Label of a frame for text reports: `func (file:line)`. */
export function frameLabel(f: Frame): string {
  if (f.native) return f.function;
  return f.line > 0 ? `${f.function} (${f.file}:${f.line})` : `${f.function} (${f.file})`;
}
