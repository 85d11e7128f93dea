// What one recorded allocation of a sampled capture stands for (docs/sampling.md): the agent records an
// allocation of S bytes with probability p(S) = 1 − e^(−S/R), so it is counted 1/p(S) times; allocations of
// at least T bytes, and mmap/mremap, were all recorded and count once. The weight is a function of the size
// and the header alone: nothing is stored per allocation.

import { Allocator, OPTION_SAMPLED } from '../capture/format.js';
import type { CaptureHeader } from '../capture/records.js';

export interface Sampling {
  /** R: the mean bytes between sample points. */
  readonly rateBytes: number;
  /** T: allocations of at least this size were all recorded. */
  readonly exactBytes: number;
}

/** The capture's sampling, or undefined for a capture of every allocation. */
export function samplingOf(h: CaptureHeader): Sampling | undefined {
  if ((h.options & OPTION_SAMPLED) === 0 || h.sampleRateBytes <= 0) return undefined;
  return { rateBytes: h.sampleRateBytes, exactBytes: h.sampleExactBytes > 0 ? h.sampleExactBytes : Infinity };
}

const MMAP: number = Allocator.Mmap;
const MREMAP: number = Allocator.Mremap;

/** How many allocations a recorded one of `size` bytes stands for (1 without sampling). */
export function sampleWeight(sampling: Sampling | undefined, size: number, allocator: number): number {
  if (sampling === undefined || size >= sampling.exactBytes || allocator === MMAP || allocator === MREMAP) return 1;
  // -expm1 keeps the precision of p for sizes far below R (1 − e^(−x) ≈ x).
  return 1 / -Math.expm1(-Math.max(size, 1) / sampling.rateBytes);
}

/** One line for reports: `estimated from a sample (one every 512 KiB on average)`. */
export function samplingNote(sampling: Sampling, formatBytes: (n: number) => string): string {
  return `estimated from a sample (one every ${formatBytes(sampling.rateBytes)} allocated, on average)`;
}
