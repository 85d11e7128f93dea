// Locations for `memlens summary`: per frame (function, file, line), the memory of every stack the frame
// is on (total, counted once per stack even under recursion) and of the stacks where it is on top (own),
// and the number of allocations in its total. Also the allocating-line view `stats` uses.

import type { Frame } from '../model/frames.js';
import type { FrameId } from '../model/ids.js';
import type { CaptureModel } from '../model/model.js';
import { importStep, isOwnCode } from './own-code.js';
import type { StackAmount } from './stacks.js';

export interface LocationRow {
  readonly function: string;
  readonly file: string;
  /** 0 when unknown. */
  readonly line: number;
  totalBytes: number;
  ownBytes: number;
  count: number;
  ownCount: number;
}

/** Name used for allocations with no frame shown (made before any Python code ran, or by a C thread). */
export const NO_STACK = '<no Python stack>';

export function locations(model: CaptureModel, stacks: readonly StackAmount[]): LocationRow[] {
  // Rows by (function, file, line), in the order first met; looked up by frame id first (a frame is one
  // (function, file, line)), by text only the first time a frame is met: the live view asks for this
  // several times a second on tens of thousands of stacks.
  const rows: LocationRow[] = [];
  const byKey = new Map<string, number>();
  const byFrame: number[] = [];
  const stamp: number[] = [];
  const rowOf = (func: string, file: string, line: number): number => {
    const key = `${func}\u0000${file}\u0000${line}`;
    let r = byKey.get(key);
    if (r === undefined) {
      r = rows.length;
      rows.push({ function: func, file, line, totalBytes: 0, ownBytes: 0, count: 0, ownCount: 0 });
      stamp.push(-1);
      byKey.set(key, r);
    }
    return r;
  };
  const rowOfFrame = (id: FrameId): number => {
    let r = byFrame[id];
    if (r === undefined) {
      const f = model.frames.frame(id);
      r = rowOf(f.function, f.file, f.line);
      byFrame[id] = r;
    }
    return r;
  };
  const path: FrameId[] = [];
  for (let i = 0; i < stacks.length; i++) {
    const st = stacks[i]!;
    if (st.leaf === undefined) {
      const r = rows[rowOf(NO_STACK, '', 0)]!;
      r.totalBytes += st.bytes;
      r.ownBytes += st.bytes;
      r.count += st.count;
      r.ownCount += st.count;
      continue;
    }
    // The frames into one array reused for every stack (StackAmount.frames would make one per stack),
    // then root first: rows are made in the order first met.
    path.length = 0;
    st.walk((id) => {
      path.push(id);
    });
    let leaf = 0;
    for (let k = path.length - 1; k >= 0; k--) {
      leaf = rowOfFrame(path[k]!);
      if (stamp[leaf] === i) continue; // recursion: count the stack once
      stamp[leaf] = i;
      const r = rows[leaf]!;
      r.totalBytes += st.bytes;
      r.count += st.count;
    }
    const r = rows[leaf]!;
    r.ownBytes += st.bytes;
    r.ownCount += st.count;
  }
  return rows;
}

export interface LineRow {
  readonly function: string;
  readonly file: string;
  readonly line: number;
  bytes: number;
  count: number;
  /**
   * ownLines only: the library or native frame that allocated below the program's line (of the stack that
   * contributed most), when it is not that line itself.
   */
  via?: { readonly function: string; readonly file: string; readonly line: number } | undefined;
  /** ownLines only: the bytes of the contribution `via` was taken from. */
  viaBytes?: number;
  /**
   * ownLines only: how many stacks (as stacks.ts merges them) the row adds up. A line's row is every stack
   * through it, a report's stack table one stack per row: numpy's `np.ones(n) * i` on CPython 3.14+ is the
   * product's arrays at the line itself and ones's 16-byte shape buffers one frame deeper, so the line counts
   * both and its largest stack only the arrays (+21 and +12 for the same bytes: docs/reports.md).
   */
  stacks?: number;
  /**
   * ownLines only: of `bytes`, what a library's import made (own-code.ts madeByImport: numpy's OpenBLAS buffers,
   * mapped and mostly never touched). "What grew" ranks the program's own lines by the rest.
   */
  importBytes?: number;
}

/** The row of a frame's line (NO_STACK without a frame) in `rows`, made with `extra` when it is new. */
function rowOf(rows: Map<string, LineRow>, f: Frame | undefined, extra: Pick<LineRow, 'via' | 'viaBytes' | 'stacks' | 'importBytes'>): LineRow {
  const func = f?.function ?? NO_STACK;
  const file = f?.file ?? '';
  const line = f?.line ?? 0;
  const key = `${func}\u0000${file}\u0000${line}`;
  let r = rows.get(key);
  if (r === undefined) {
    r = { function: func, file, line, bytes: 0, count: 0, ...extra };
    rows.set(key, r);
  }
  return r;
}

/** Per line of the frame on top of each stack (the allocating line): memray's "top locations". */
export function allocatingLines(model: CaptureModel, stacks: readonly StackAmount[]): LineRow[] {
  const rows = new Map<string, LineRow>();
  for (const st of stacks) {
    const top = st.leaf;
    const r = rowOf(rows, top === undefined ? undefined : model.frames.frame(top), {});
    r.bytes += st.bytes;
    r.count += st.count;
  }
  return [...rows.values()];
}

/**
 * Per line of the program's own code (own-code.ts: the innermost frame outside the standard library,
 * installed packages and native code; the innermost frame when there is none), with the frame that
 * allocated beside it when that is another: what "what grew" shows, as a reader looks for their own line.
 */
export function ownLines(model: CaptureModel, stacks: readonly StackAmount[]): LineRow[] {
  const rows = new Map<string, LineRow>();
  for (const st of stacks) {
    // The innermost own-code frame, else the leaf (own-code.ts's ownLineIndex), walked from the leaf; on the way,
    // whether a library's import made it (own-code.ts importStep: the first frame that decides).
    let ownId = st.leaf;
    let byImport: boolean | undefined;
    st.walk((id) => {
      const frame = model.frames.frame(id);
      byImport ??= importStep(frame);
      if (!isOwnCode(frame)) return false;
      ownId = id;
      return true;
    });
    const f = ownId === undefined ? undefined : model.frames.frame(ownId);
    const leafId = ownId !== st.leaf ? st.leaf : undefined;
    const r = rowOf(rows, f, { via: undefined, viaBytes: -Infinity, stacks: 0, importBytes: 0 });
    if (byImport === true) r.importBytes = (r.importBytes ?? 0) + st.bytes;
    r.bytes += st.bytes;
    r.count += st.count;
    if (st.bytes !== 0 || st.count !== 0) r.stacks = (r.stacks ?? 0) + 1;
    if (st.bytes > (r.viaBytes ?? -Infinity)) {
      const leaf = leafId === undefined ? undefined : model.frames.frame(leafId);
      r.via = leaf === undefined ? undefined : { function: leaf.function, file: leaf.file, line: leaf.line };
      r.viaBytes = st.bytes;
    }
  }
  return [...rows.values()];
}
