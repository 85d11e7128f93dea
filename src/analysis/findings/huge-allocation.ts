// One allocation that took a large share of the memory limit while the process was dying of it: the OOM
// came from building something whole at once (a matrix, a file read in one go, a big join or an
// intermediate result of an expression), not from memory that piled up. The advice: process in chunks.
//
// The evidence is large-lifetimes.ts's (every allocation of 1 MiB or more, with when it was made and
// freed): the biggest one alive when usage reached the limit (or at the near-OOM marker, or at the end),
// of those made under a Python frame and not while a library was being imported.

import { MARKER_KINDS } from '../../capture/format.js';
import type { FrameId } from '../../model/ids.js';
import { madeByImport } from '../own-code.js';
import { limitReachedNs, memoryLimitOf } from '../memory-limit.js';
import { type DetectorInput, type FindingCommon } from './finding.js';
import { ownLineIndex } from './line-groups.js';

/**
 * One allocation of at least this share of the limit: a quarter of all the process may use, in a single
 * object, is what one decides to make whole, not the small change of a program.
 */
export const HUGE_SHARE_OF_LIMIT = 0.25;

const NEAR_OOM = MARKER_KINDS.indexOf('near-oom');

export const HUGE_ALLOCATION_TEXT = {
  title: 'One allocation took a large share of the memory limit',
  advice:
    'Do not build it whole: process the data in chunks (read, compute and write it block by block; numpy.memmap for arrays larger than memory; a generator instead of a list), reuse one buffer (numpy out= arguments, in-place operators such as a *= 2) instead of making temporaries, and del what is done with before making the next big one.',
} as const;

export interface HugeAllocationFinding extends FindingCommon {
  readonly kind: 'huge-allocation';
  /** The program's own line, the library frame that allocated (when another), the stack. */
  readonly line: FrameId | -1;
  readonly leaf: FrameId | undefined;
  readonly frames: readonly FrameId[];
  /** Its size, and when it was made (the last snapshot before it). */
  readonly allocationBytes: number;
  readonly madeNs: number;
  readonly limit: number;
  /** The moment it was alive at: when usage reached the limit, the near-OOM marker, or the end. */
  readonly atNs: number;
  readonly at: 'limit' | 'near-oom' | 'end';
  readonly oomKilled: boolean;
}

/** Fires only when the process reached its limit, came near it, or was OOM-killed; needs every event. */
export function hugeAllocation({ model, facts, filter, claimed }: DetectorInput): HugeAllocationFinding[] {
  if (facts === undefined || model.aggregated) return [];
  const limit = memoryLimitOf(model);
  if (limit === undefined) return [];
  const oomKilled = model.exit?.oomKill === 1;
  const reached = limitReachedNs(model);
  const nearOom = model.markers.find((m) => m.kind === NEAR_OOM);
  const endNs = model.snapshots.timeNs.length > 0 ? model.snapshots.timeNs[model.snapshots.timeNs.length - 1]! : model.durationNs;
  let at: HugeAllocationFinding['at'];
  let atNs: number;
  if (reached !== undefined) [at, atNs] = ['limit', reached];
  else if (nearOom !== undefined) [at, atNs] = ['near-oom', nearOom.timeNs];
  else if (oomKilled) [at, atNs] = ['end', endNs];
  else return [];
  let best: (typeof facts.lifetimes.large)[number] | undefined;
  for (const a of facts.lifetimes.large) {
    // Alive at that moment (times are those of the snapshot before each event: exact to an interval).
    if (a.allocNs > atNs || (a.freeNs !== undefined && a.freeNs < atNs)) continue;
    if (a.bytes < HUGE_SHARE_OF_LIMIT * limit || (best !== undefined && a.bytes <= best.bytes)) continue;
    if (madeByImport(model, a.site)) continue;
    // No Python frame at all: made by a thread that was running no Python code (a native library's worker:
    // numpy 2.0's OpenBLAS maps a 32 MiB buffer per worker thread as the thread starts, reserved and mostly
    // never touched; a newer OpenBLAS maps it from the importing thread, which madeByImport covers where the
    // capture has it at all: either is mapped inside dlopen, usually before the agent hooks the library,
    // docs/agent.md) or by the interpreter around the program. Nothing the program chose to build whole, and no line to change.
    if (model.sites.pyStack(a.site) === 0) continue;
    best = a;
  }
  if (best === undefined) return [];
  const sites = model.sites;
  const frames = model.frames.stack(sites.pyStack(best.site), sites.nativeStack(best.site), filter);
  const k = ownLineIndex(model, frames);
  const line = k < 0 ? -1 : frames[k]!;
  if (claimed.has(line)) return [];
  return [
    {
      kind: 'huge-allocation',
      ...HUGE_ALLOCATION_TEXT,
      bytes: best.bytes,
      lines: [line],
      line,
      leaf: k >= 0 && k < frames.length - 1 ? frames[frames.length - 1] : undefined,
      frames,
      allocationBytes: best.bytes,
      madeNs: best.allocNs,
      limit,
      atNs,
      at,
      oomKilled,
    },
  ];
}
