// Giving back the memory of big typed arrays that a table outgrew, at once rather than at some later full
// collection.
//
// An ArrayBuffer's memory is freed when V8 collects its object. A table that doubles keeps its arrays long
// enough for their objects to reach the old generation, so the arrays it outgrew wait for a full
// (mark-compact) collection, which a reader whose old generation hardly grows seldom gets: reading a 50
// M-event capture kept about 7 MiB of outgrown live-table arrays to its end (docs/benchmarks.md, "Report
// memory"). Once that many bytes were outgrown, a full collection is asked for: a few milliseconds each
// time (the heap is small; the arrays' contents are not scanned), and a table doubling to N bytes asks at
// most log2(N / 2 MiB) times.
//
// V8 starts a collection on request only through its --expose-gc function, so the flag is set for as long
// as it takes to fetch the function from a new context and set back (the rest of the process keeps its
// flags; V8 refuses a code cache made under other flags). Detaching the outgrown buffers instead (a
// structuredClone transfer frees them at the next scavenge) costs more: the first detach in a process
// makes V8's optimised code check every typed-array access for detachment, about 7 % more CPU time on a
// report.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Outgrown bytes that make a collection worth its time. */
export const COLLECT_FROM_BYTES = 2 << 20;

let pending = 0;
let collect: (() => void) | undefined | null;

function collector(): (() => void) | null {
  if (collect !== undefined) return collect;
  collect = null;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    if (typeof gc === 'function') collect = gc as () => void;
  } catch {
    // No collector: the arrays wait for V8's own next full collection, as they would anyway.
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  return collect;
}

/**
 * Collects now: the caller just let go of big arrays (a finished replay's tables) that would otherwise wait
 * for V8's next full collection while the process goes on allocating (the flame graph builds its page).
 */
export function collectNow(): void {
  pending = 0;
  collector()?.();
}

/** Says that arrays of `bytes` in all were just outgrown (and are no longer referenced). */
export function outgrown(bytes: number): void {
  pending += bytes;
  if (pending < COLLECT_FROM_BYTES) return;
  pending = 0;
  collector()?.();
}
