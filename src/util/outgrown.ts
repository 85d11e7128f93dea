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

import { type HeapSpaceInfo, getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Outgrown bytes that make a collection worth its time. */
export const COLLECT_FROM_BYTES = 2 << 20;

let pending = 0;
let collect: (() => void) | undefined | null;
/** Full collections asked for and made, in this process (for tests: V8's own 'gc' entries come late). */
let forced = 0;

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
  if (collect === null) return null;
  const gc = collect;
  collect = () => {
    forced++;
    gc();
  };
  return collect;
}

/** How many full collections this module made so far (0 where V8 gave no collector). */
export function collectionsForced(): number {
  return forced;
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

/** Growth of V8's heap in use, past what the last collection left, at which a long read collects. */
export const GROWTH_STEP_BYTES = 1 << 20;
/** A heap that keeps more than this after a collection is left to V8's own heuristics (see below). */
export const GROWTH_CHECK_UP_TO = 32 << 20;
/** The step is at least the process's resident memory over this: the garbage left is at most that share of it. */
export const GROWTH_RSS_SHARE = 64;
/** Past this resident memory the share is GROWTH_WIDE_SHARE: a process this big holds a report's model, its peak after the read. */
export const GROWTH_WIDE_FROM = 256 << 20;
/** The share of a process past GROWTH_WIDE_FROM (see heapGrowthCheck). */
export const GROWTH_WIDE_SHARE = 16;

/**
 * A check to call between the chunks of a long read: a full collection once V8's old generation grew by a
 * step since the last one. A report's read promotes short-lived objects (those that outlive two scavenges of
 * the 1 MiB young generation, src/util/report-flags.ts) into the old generation, where they wait for a
 * mark-compact that V8's own limits, far above a report's heap, seldom ask for: on a 50 M-event capture the
 * old generation held 2-3 MiB of such garbage at the end of the read, the moment of the reports' peak, its
 * pages resident (docs/benchmarks.md, "Reports' peak memory, round eleven"). The step is the largest of
 * GROWTH_STEP_BYTES, an eighth of what the last collection kept, and a GROWTH_RSS_SHARE-th of the process's
 * resident memory; the checks stop once what a collection kept is past GROWTH_CHECK_UP_TO: each collection
 * marks what is live, so a read that builds a big model (deep stacks: hundreds of MiB) would otherwise pay for
 * many; the extra marking is bounded by about a dozen collections of at most 32 MiB. The share of the resident
 * memory is for reads that keep little on V8's heap but promote much while their typed arrays hold hundreds of
 * MiB: call_sites (3 M stacks) promoted ~470 MiB, a step of 1 MiB made 460 collections of its 5.5 MiB heap, 2.4 s
 * of a 12 s `summary`, to keep garbage of 1 MiB beside a process of 600 MiB (docs/benchmarks.md, "The read's
 * forced collections, round twenty"). RSS is read only when the heap grew past the other two: a read of a few
 * tens of MiB never gets a step above GROWTH_STEP_BYTES from it. The measure is the old generation only
 * (oldGenerationBytes): the young generation's fill, up to a MiB of garbage that the next scavenge frees, made
 * the check fire per MiB allocated rather than per MiB promoted (at a quarter of call_sites, 107 MB of young
 * growth against 21 MB of old; round twenty). V8's external memory (array buffers) counts too, its growth
 * added to the old generation's: a promoted chunk buffer of the read is a few bytes of old generation holding
 * 128 KiB, and the old generation alone left numpy_mix's `stats` 5 MB higher at its peak (round twenty-one).
 * The step and the bound stay on the old generation: a table's big arrays would otherwise stop the checks.
 * Past GROWTH_WIDE_FROM of resident memory the share is GROWTH_WIDE_SHARE: call_sites' `verdict` (550 MiB
 * during the read) collected every ~9 MiB of growth, 35 collections of ~20 ms, most of them for RecentGrowth's
 * folded ticks; at a 16th, garbage of up to ~35 MiB waits beside a read whose report peaks later, at 620 MiB
 * (docs/benchmarks.md, round twenty-two). The captures whose read is their peak stay below it (60-130 MiB).
 * The first check collects, to start from what is live. `used` is the old generation in use, `rss` the
 * resident memory, `external` the external memory (all replaced in tests).
 */
export function heapGrowthCheck(used: () => number = oldGenerationInUse, rss: () => number = residentBytes, external: () => number = externalInUse): () => void {
  // Nothing kept yet: the first check collects (the start's garbage, and what the first chunk promoted).
  let kept = -Infinity;
  let keptExternal = 0;
  let off = false;
  return () => {
    if (off) return;
    const grown = used() - kept + (external() - keptExternal);
    if (grown <= Math.max(GROWTH_STEP_BYTES, kept / 8)) return;
    const r = rss();
    if (grown <= r / (r > GROWTH_WIDE_FROM ? GROWTH_WIDE_SHARE : GROWTH_RSS_SHARE)) return;
    collectNow();
    kept = used();
    keptExternal = external();
    off = kept > GROWTH_CHECK_UP_TO;
  };
}

/** Bytes in use in V8's heap spaces other than the young generation's (`new_space`, `new_large_object_space`). */
export function oldGenerationBytes(spaces: readonly Pick<HeapSpaceInfo, 'space_name' | 'space_used_size'>[]): number {
  let bytes = 0;
  for (const space of spaces) if (!space.space_name.startsWith('new_')) bytes += space.space_used_size;
  return bytes;
}

function externalInUse(): number {
  return getHeapStatistics().external_memory;
}

function oldGenerationInUse(): number {
  return oldGenerationBytes(getHeapSpaceStatistics());
}

function residentBytes(): number {
  return process.memoryUsage.rss();
}
