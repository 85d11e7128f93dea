// Frames as reports see them: (function, file, line), interned, with what a filter needs to know about
// each (hidden kind, module). Python stack nodes and native stack nodes of the capture map to frames once,
// at the end of reading, when every CODE record has arrived.

import { type FrameKind, type ModuleType, type PathInfo, moduleOfFile, pythonFrameKind, topLevelPackage } from './frame-kinds.js';

export interface Frame {
  readonly id: number;
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

/** An Int32Array its holder may read but not write. */
export type ReadonlyInt32Array = Readonly<Omit<Int32Array, 'copyWithin' | 'fill' | 'reverse' | 'set' | 'sort' | 'subarray'>>;

/** A FrameTable as the model hands it to analyses: reads only. */
export interface ReadonlyFrameTable {
  readonly frames: readonly Frame[];
  /** Python stack node (global, 1-based) → frame id, and parent node; index 0 unused. */
  readonly pyFrame: ReadonlyInt32Array;
  readonly pyParent: ReadonlyInt32Array;
  /** The same for native stack nodes. */
  readonly nativeFrame: ReadonlyInt32Array;
  readonly nativeParent: ReadonlyInt32Array;
  /** Frames whose code object never arrived (damaged capture). */
  readonly unknownCodes: number;
  frame(id: number): Frame;
  visible(id: number, filter: FrameFilter): boolean;
  stack(pyNode: number, nativeNode: number, filter: FrameFilter): number[];
  moduleOfStack(frames: readonly number[]): string;
}

/** Filled in by the stack resolver (model/stack-resolver.ts). */
export class FrameTable implements ReadonlyFrameTable {
  private readonly byKey = new Map<string, number>();
  readonly frames: Frame[] = [];
  /** Python stack node (global, 1-based) → frame id, and parent node; index 0 unused. */
  pyFrame: Int32Array = new Int32Array(1);
  pyParent: Int32Array = new Int32Array(1);
  nativeFrame: Int32Array = new Int32Array(1);
  nativeParent: Int32Array = new Int32Array(1);
  /** Frames whose code object never arrived (damaged capture). */
  unknownCodes = 0;

  constructor(private readonly paths: PathInfo) {}

  intern(func: string, file: string, line: number, native: boolean, kind?: FrameKind): number {
    const key = `${native ? 'n' : 'p'}\u0000${func}\u0000${file}\u0000${line}`;
    const found = this.byKey.get(key);
    if (found !== undefined) return found;
    const id = this.frames.length;
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

  frame(id: number): Frame {
    const f = this.frames[id];
    if (f === undefined) throw new RangeError(`frame ${id} does not exist`);
    return f;
  }

  visible(id: number, filter: FrameFilter): boolean {
    const kind = this.frame(id).kind;
    return kind === 'user' || (kind === 'internal' ? filter.showInternal : filter.showImports);
  }

  /**
   * The frames of a stack, root first: the Python frames, then the native frames past the interpreter's
   * last frame (the C code that Python called into: numpy, libc). Hidden frames are left out; their
   * allocations stay with the nearest shown caller.
   */
  stack(pyNode: number, nativeNode: number, filter: FrameFilter): number[] {
    const out: number[] = [];
    for (let n = pyNode; n > 0; n = this.pyParent[n] as number) {
      const f = this.pyFrame[n] as number;
      if (this.visible(f, filter)) out.push(f);
    }
    out.reverse();
    if (nativeNode > 0) {
      const native: number[] = [];
      for (let n = nativeNode; n > 0; n = this.nativeParent[n] as number) native.push(this.nativeFrame[n] as number);
      native.reverse();
      let from = 0;
      if (!filter.showInternal) {
        // Skip the interpreter's frames (the eval loop and its callers) up to the last one.
        for (let i = native.length - 1; i >= 0; i--) {
          if (this.frame(native[i] as number).kind === 'internal') {
            from = i + 1;
            break;
          }
        }
      }
      for (let i = from; i < native.length; i++) out.push(native[i] as number);
    }
    return out;
  }

  /** The top-level package of the innermost frame outside the stdlib (memray's "top modules"). */
  moduleOfStack(frames: readonly number[]): string {
    for (let i = frames.length - 1; i >= 0; i--) {
      const f = this.frame(frames[i] as number);
      if (f.native || f.moduleType === 'stdlib') continue;
      return topLevelPackage(f.module);
    }
    return '<root>';
  }
}

/** Label of a frame for text reports: `func (file:line)`. */
export function frameLabel(f: Frame): string {
  if (f.native) return f.function;
  return f.line > 0 ? `${f.function} (${f.file}:${f.line})` : `${f.function} (${f.file})`;
}
