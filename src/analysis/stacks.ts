// From sites to stacks as a report shows them: the frames (function, file, line) after hiding, with the
// sites that share them merged (the same stack from two threads, or two instructions on one line, is one
// stack). Optional thread filter.

import type { FrameFilter } from '../model/frames.js';
import type { CaptureModel } from '../model/model.js';
import type { AllocationSet } from './allocation-set.js';

export interface StackAmount {
  /** Frame ids, root first. Empty: no Python frame was on the stack (and no native one shown). */
  readonly frames: readonly number[];
  bytes: number;
  count: number;
  /** Thread indexes that contributed. */
  readonly threads: Set<number>;
  /** Allocator of the largest contribution. */
  allocator: number;
  allocatorBytes: number;
}

export interface StackOptions {
  readonly filter: FrameFilter;
  /** Only these thread indexes (all when undefined). */
  readonly threads?: ReadonlySet<number> | undefined;
}

export function stacksOf(model: CaptureModel, set: AllocationSet, options: StackOptions): StackAmount[] {
  const byKey = new Map<string, StackAmount>();
  // Sites share stack nodes; cache the frame list per (py, native) pair.
  const frameCache = new Map<string, number[]>();
  const sites = model.sites;
  for (const s of set.sites) {
    const thread = sites.thread(s.site);
    if (options.threads !== undefined && !options.threads.has(thread)) continue;
    const py = sites.pyStack(s.site);
    const native = sites.nativeStack(s.site);
    const pairKey = `${py}:${native}`;
    let frames = frameCache.get(pairKey);
    if (frames === undefined) {
      frames = model.frames.stack(py, native, options.filter);
      frameCache.set(pairKey, frames);
    }
    const key = frames.join(',');
    let entry = byKey.get(key);
    if (entry === undefined) {
      entry = { frames, bytes: 0, count: 0, threads: new Set(), allocator: sites.allocator(s.site), allocatorBytes: 0 };
      byKey.set(key, entry);
    }
    entry.bytes += s.bytes;
    entry.count += s.count;
    entry.threads.add(thread);
    if (s.bytes > entry.allocatorBytes) {
      entry.allocator = sites.allocator(s.site);
      entry.allocatorBytes = s.bytes;
    }
  }
  return [...byKey.values()].sort((a, b) => b.bytes - a.bytes || b.count - a.count);
}

/** A stack's identity across captures: its frames as (function, file, line), root first. */
export function stackKey(model: CaptureModel, frames: readonly number[], withLines = true): string {
  return frames
    .map((id) => {
      const f = model.frames.frame(id);
      return withLines ? `${f.function}\u0000${f.file}\u0000${f.line}` : `${f.function}\u0000${f.file}`;
    })
    .join('\u0001');
}
