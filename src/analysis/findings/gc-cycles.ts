// Reference cycles that held memory until the cyclic garbage collector freed it. Reference counting
// frees an object as soon as nothing refers to it; objects in a cycle always have a referrer, so they wait
// for the collector, and memory grows between collections. The advice: break the cycles.
//
// The evidence is gc.ts's report of what the collections freed (gc-frees.ts: the frees inside a GC record).

import type { CaptureModel } from '../../model/model.js';
import type { GcReport } from '../gc.js';
import type { StackAmount } from '../stacks.js';
import { type DetectorInput, EVIDENCE_ROWS, type FindingCommon } from './finding.js';

export const GC_CYCLES_TEXT = {
  title: 'Reference cycles held memory until the garbage collector freed it',
  advice:
    'Break the cycles: hold back-references with weakref (weakref.ref, WeakValueDictionary), or clear them explicitly (obj.parent = None, del) when done, so reference counting frees the memory at once.',
} as const;

export interface GcCyclesFinding extends FindingCommon {
  readonly kind: 'gc-cycles';
  readonly allocations: number;
  /** Collections that freed tracked memory, and the one that freed the most. */
  readonly collections: number;
  readonly largest: { readonly timeNs: number; readonly generation: number; readonly bytes: number } | undefined;
  readonly stacks: readonly StackAmount[];
}

/** Fires when the collector freed at least the finding minimum (DetectorInput.minBytes). Needs every
 * event (the frees inside a collection): not in aggregated captures. */
export function gcCycles(input: DetectorInput): GcCyclesFinding[] {
  const { model, facts, minBytes } = input;
  if (facts === undefined || model.aggregated) return [];
  const gc = input.gc();
  if (gc.bytesFreed === undefined || gc.bytesFreed < minBytes) return [];
  let collections = 0;
  let largest: { timeNs: number; generation: number; bytes: number } | undefined;
  // Per collection (model.gcs order): gc.ts matched them to the observer's figures; recount here.
  const perGc = gcPerCollection(model, gc);
  for (const p of perGc) {
    if (p.bytes <= 0) continue;
    collections++;
    if (largest === undefined || p.bytes > largest.bytes) largest = p;
  }
  return [
    {
      kind: 'gc-cycles',
      ...GC_CYCLES_TEXT,
      bytes: gc.bytesFreed,
      lines: [],
      allocations: gc.allocationsFreed ?? 0,
      collections,
      largest,
      stacks: gc.freedByStack.slice(0, EVIDENCE_ROWS),
    },
  ];
}

function gcPerCollection(model: CaptureModel, gc: GcReport): { timeNs: number; generation: number; bytes: number }[] {
  return model.gcs.map((r, i) => ({ timeNs: r.timeNs, generation: r.generation, bytes: gc.perCollectionBytes[i] ?? 0 }));
}
