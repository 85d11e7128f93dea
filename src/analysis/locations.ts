// Locations for `memlens summary`: per frame (function, file, line), the memory of every stack the frame
// is on (total, counted once per stack even under recursion) and of the stacks where it is on top (own),
// and the number of allocations in its total. Also the allocating-line view `stats` uses.

import type { CaptureModel } from '../model/model.js';
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
  const rows = new Map<string, LocationRow>();
  const row = (func: string, file: string, line: number): LocationRow => {
    const key = `${func}\u0000${file}\u0000${line}`;
    let r = rows.get(key);
    if (r === undefined) {
      r = { function: func, file, line, totalBytes: 0, ownBytes: 0, count: 0, ownCount: 0 };
      rows.set(key, r);
    }
    return r;
  };
  for (const st of stacks) {
    if (st.frames.length === 0) {
      const r = row(NO_STACK, '', 0);
      r.totalBytes += st.bytes;
      r.ownBytes += st.bytes;
      r.count += st.count;
      r.ownCount += st.count;
      continue;
    }
    const seen = new Set<LocationRow>();
    for (const id of st.frames) {
      const f = model.frames.frame(id);
      const r = row(f.function, f.file, f.line);
      if (seen.has(r)) continue; // recursion: count the stack once
      seen.add(r);
      r.totalBytes += st.bytes;
      r.count += st.count;
    }
    const leaf = model.frames.frame(st.frames[st.frames.length - 1] as number);
    const r = row(leaf.function, leaf.file, leaf.line);
    r.ownBytes += st.bytes;
    r.ownCount += st.count;
  }
  return [...rows.values()];
}

export interface LineRow {
  readonly function: string;
  readonly file: string;
  readonly line: number;
  bytes: number;
  count: number;
}

/** Per line of the frame on top of each stack (the allocating line): memray's "top locations". */
export function allocatingLines(model: CaptureModel, stacks: readonly StackAmount[]): LineRow[] {
  const rows = new Map<string, LineRow>();
  for (const st of stacks) {
    const top = st.frames[st.frames.length - 1];
    const f = top === undefined ? undefined : model.frames.frame(top);
    const func = f?.function ?? NO_STACK;
    const file = f?.file ?? '';
    const line = f?.line ?? 0;
    const key = `${func}\u0000${file}\u0000${line}`;
    let r = rows.get(key);
    if (r === undefined) {
      r = { function: func, file, line, bytes: 0, count: 0 };
      rows.set(key, r);
    }
    r.bytes += st.bytes;
    r.count += st.count;
  }
  return [...rows.values()];
}
