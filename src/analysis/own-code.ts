// The program's own code: what a reader looks for first in a stack, since it is what they can change.
// Frames of the standard library, of installed packages and native frames are someone else's; the
// innermost frame that is none of those is "the user's line" (numpy's `ones` allocated, but the line
// to fix is the `load_partition` that called it).

import type { Frame, FrameFilter } from '../model/frames.js';
import { type FrameId, NO_NATIVE_NODE, type SiteId } from '../model/ids.js';
import type { CaptureModel } from '../model/model.js';

/** Not native, not the standard library, not an installed package. */
export function isOwnCode(f: Frame): boolean {
  return !f.native && f.moduleType !== 'stdlib' && f.moduleType !== 'site-packages';
}

/** The index of the program's own line in a stack (root first): the innermost own-code frame, else the
 * innermost frame; -1 for an empty stack. */
export function ownLineIndex(model: CaptureModel, frames: readonly FrameId[]): number {
  for (let i = frames.length - 1; i >= 0; i--) if (isOwnCode(model.frames.frame(frames[i]!))) return i;
  return frames.length - 1;
}

/** ownPyLine(): the site has native frames, or no visible frame of the program's own code among its Python frames. */
export const NO_OWN_LINE = -2;

/**
 * The program's own line of a site whose stack has no native frames, found without making the stack: the innermost
 * visible Python frame of own code (what ownLineIndex() picks in the stack made whole), or NO_OWN_LINE when the
 * site has native frames or no such frame (the caller then makes the stack and asks ownLineIndex()). The walk
 * usually stops at the first frame, where the whole stack is 20-60 frames on call_sites (findings/collection-
 * growth.ts read 0.43 s of 10 s making those stacks; docs/benchmarks.md, round thirty-three).
 */
export function ownPyLine(model: CaptureModel, site: SiteId, filter: FrameFilter): FrameId | typeof NO_OWN_LINE {
  if (model.sites.nativeStack(site) !== NO_NATIVE_NODE) return NO_OWN_LINE;
  const frames = model.frames;
  for (let n = model.sites.pyStack(site); n > 0; n = frames.pyParentOf(n)) {
    const f = frames.pyFrameOf(n);
    if (isOwnCode(frames.frame(f)) && frames.visible(f, filter)) return f;
  }
  return NO_OWN_LINE;
}

/**
 * One step of the walk out from an allocation's innermost frame that tells whether a library's import made
 * it (madeByImport): true at the import system or a library module's top level, false at the program's own
 * code, undefined at a library function or a native frame (walk on).
 */
export function importStep(f: Frame): boolean | undefined {
  if (f.kind === 'import') return true;
  if (f.kind !== 'user' || f.native) return undefined;
  if (f.moduleType !== 'site-packages' && f.moduleType !== 'stdlib') return false; // the program's own code
  return f.function === '<module>' ? true : undefined;
}

/**
 * Made while a library was being imported: walking out from the innermost Python frame (hidden ones
 * included) through library code only (the standard library's, an installed package's), the import
 * system or a library module's top level comes before any of the program's own code. A library's own
 * tables and buffers (numpy's OpenBLAS reserves tens of MiB it may never touch, inside
 * `blas_fpe_check`, a function numpy's `__init__` calls), not something the program chose to make.
 */
export function madeByImport(model: CaptureModel, site: SiteId): boolean {
  for (let n = model.sites.pyStack(site); n > 0; n = model.frames.pyParentOf(n)) {
    const step = importStep(model.frames.frame(model.frames.pyFrameOf(n)));
    if (step !== undefined) return step;
  }
  return false;
}
