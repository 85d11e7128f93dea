// The census a capture holds (CENSUS records: taken by the agent near an OOM, as memory grows with
// --census-at-peak, or on request), chosen and read for the reports: the verdict, the summary and the HTML
// report show its top types beside the allocation sites, and the accumulation findings name the type that
// most likely holds their memory. A census that cannot be read is said, never guessed at.

import { CaptureFormatError } from '../errors.js';
import type { CaptureModel } from '../model/model.js';
import { type Census, type CensusType, completeCensuses, parseCensus } from './census.js';

export interface CaptureCensus {
  /** When it was taken (ns since tracking started) and why ("near-oom", "growth", "on request"). */
  readonly timeNs: number;
  readonly label: string;
  readonly census: Census;
  /** Censuses in the capture (this is the last near-OOM one, else the last). */
  readonly inCapture: number;
}

export interface CaptureCensusResult {
  readonly census: CaptureCensus | undefined;
  /** Why a census the capture holds could not be read. */
  readonly error: string | undefined;
}

/** The census the reports use: the last one taken near OOM, else the last one; undefined when none. */
export function captureCensus(model: CaptureModel): CaptureCensusResult {
  const all = completeCensuses(model.censuses);
  if (all.length === 0) return { census: undefined, error: undefined };
  const nearOom = all.filter((c) => c.label === 'near-oom');
  const pick = (nearOom.length > 0 ? nearOom : all).reduce((a, c) => (c.timeNs >= a.timeNs ? c : a));
  try {
    const census = parseCensus(pick.json, `the census record at ${(pick.timeNs / 1e9).toFixed(3)} s`);
    return { census: { timeNs: pick.timeNs, label: pick.label, census, inCapture: all.length }, error: undefined };
  } catch (e) {
    if (!(e instanceof CaptureFormatError)) throw e;
    return { census: undefined, error: e.message };
  }
}

/** What a census says holds an amount of memory: a type whose objects hold about as much. */
export interface HeldAs {
  readonly type: string;
  readonly count: number;
  readonly bytes: number;
  /** Of everything the census measured. */
  readonly share: number;
  /** The largest group of the type's objects by reference path (`module __main__['SESSIONS'][*].payload`), when the census has paths. */
  readonly path?: { readonly pattern: string; readonly count: number; readonly bytes: number };
}

/**
 * A census type holds `bytes` when it is among the census's HELD_AS_TOP_TYPES largest types and its
 * objects' sizes add up to between half and twice that (sizes are shallow, sys.getsizeof: a bytes,
 * bytearray or numpy array that owns its data counts it; a list or a dict counts only its table). The
 * closest such type, or undefined: the census shows none that could, and nothing is claimed. With the
 * census's path groups, the largest group of that type names the container that keeps them.
 */
export const HELD_AS_TOP_TYPES = 3;
export const HELD_AS_MIN_RATIO = 0.5;
export const HELD_AS_MAX_RATIO = 2;

export function heldAs(census: Census, bytes: number): HeldAs | undefined {
  if (bytes <= 0) return undefined;
  let best: CensusType | undefined;
  let bestDistance = Infinity;
  const top = [...census.types].sort((a, b) => b.bytes - a.bytes).slice(0, HELD_AS_TOP_TYPES);
  for (const t of top) {
    const ratio = t.bytes / bytes;
    if (ratio < HELD_AS_MIN_RATIO || ratio > HELD_AS_MAX_RATIO) continue;
    const distance = Math.abs(Math.log(ratio));
    if (distance < bestDistance) {
      best = t;
      bestDistance = distance;
    }
  }
  if (best === undefined) return undefined;
  const type = best.type;
  const group = (census.pathGroups ?? []).filter((g) => g.type === type && g.pattern !== null).sort((a, b) => b.bytes - a.bytes)[0];
  return {
    type,
    count: best.count,
    bytes: best.bytes,
    share: census.totalBytes > 0 ? best.bytes / census.totalBytes : 0,
    ...(group === undefined || group.pattern === null ? {} : { path: { pattern: group.pattern, count: group.count, bytes: group.bytes } }),
  };
}
