// Censuses of live Python objects (agent/python/memlens_census.py): validating what a process sent back,
// and comparing two of them (which types accumulate). Pure.

import { CaptureFormatError } from '../errors.js';
import { MAX_OBJECTS, MAX_PROCESS_BYTES } from '../model/value-bounds.js';

export interface CensusType {
  readonly type: string;
  readonly count: number;
  /** Sum of sys.getsizeof: shallow sizes (a list counts its pointer array, not its items). */
  readonly bytes: number;
}

export interface CensusObject {
  readonly type: string;
  readonly bytes: number;
  /** len() of the object, or -1. */
  readonly length: number;
  readonly id: number;
}

export interface CensusPath {
  readonly id?: number;
  readonly target?: string;
  /** `module __main__['cache'][3]`, or null with the reason. */
  readonly path: string | null;
  readonly reason?: string;
}

/**
 * Objects of one type grouped by the shape of the reference path that keeps them alive: keys and indices
 * that vary from one object to the next are `[*]` (`module __main__['SESSIONS'][*].payload`).
 */
export interface CensusPathGroup {
  /** null: the search did not reach them from any root (`reason` says why). */
  readonly pattern: string | null;
  readonly type: string;
  readonly count: number;
  /** Sum of sys.getsizeof of the group's objects. */
  readonly bytes: number;
  /** One real path of the group. */
  readonly example: string | null;
  readonly reason?: string;
}

/** What the reference-path search covered: one pass over the heap from its roots. */
export interface CensusPathSearch {
  /** The types whose objects it grouped. */
  readonly types: readonly string[];
  readonly visited: number;
  readonly depth: number;
  /** It stopped at a bound (`bound` says which): the groups count what it reached. */
  readonly partial: boolean;
  readonly bound: string | null;
  readonly pauseMs: number;
}

export interface Census {
  readonly pid?: number;
  /** Unix time (s) it was taken. */
  readonly time: number;
  /** How long the process was paused for it. */
  readonly pauseMs: number;
  /** The time budget ran out before every object was seen. */
  readonly partial: boolean;
  readonly trackedObjects: number;
  readonly untrackedObjects: number;
  readonly totalCount: number;
  readonly totalBytes: number;
  /** Types by bytes, largest first (the top ones only). */
  readonly types: readonly CensusType[];
  readonly typeCount: number;
  readonly largest: readonly CensusObject[];
  readonly gc: { readonly enabled: boolean; readonly counts: readonly number[]; readonly thresholds: readonly number[]; readonly frozen: number | null; readonly garbage: number } | undefined;
  readonly paths: readonly CensusPath[] | undefined;
  /** undefined: no search was made (or a census from before path groups). */
  readonly pathGroups: readonly CensusPathGroup[] | undefined;
  readonly pathSearch: CensusPathSearch | undefined;
}

function num(o: Record<string, unknown>, key: string, where: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new CaptureFormatError(`${where}: '${key}' is not a number`);
  return v;
}

/**
 * A number no process can have is refused as the rest of memlens refuses it (src/model/value-bounds.ts):
 * counts of objects and amounts of bytes are whole numbers from 0 to what a process can hold, times and
 * pauses are not negative.
 */
function bounded(o: Record<string, unknown>, key: string, where: string, max: number, whole = true): number {
  const v = num(o, key, where);
  if (v < 0 || v > max || (whole && !Number.isInteger(v))) {
    throw new CaptureFormatError(`${where}: '${key}' is ${v}, which no process can have (${whole ? 'a whole number ' : ''}from 0 to ${max})`);
  }
  return v;
}

const count = (o: Record<string, unknown>, key: string, where: string): number => bounded(o, key, where, MAX_OBJECTS);
/** A list of counts (the GC's per-generation counts and thresholds). */
const counts = (o: Record<string, unknown>, key: string, where: string): number[] => arr(o[key], `${where} ${key}`).map((v, i) => count({ [i]: v }, String(i), `${where} ${key}`));
const bytes = (o: Record<string, unknown>, key: string, where: string): number => bounded(o, key, where, MAX_PROCESS_BYTES);

function str(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new CaptureFormatError(`${where}: '${key}' is not a string`);
  return v;
}

function obj(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CaptureFormatError(`${where}: not an object`);
  return v as Record<string, unknown>;
}

function arr(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) throw new CaptureFormatError(`${where}: not a list`);
  return v;
}

/** A census is a few levels deep (census → paths → results → a result); a deeper one is not a census. */
const MAX_CENSUS_DEPTH = 16;

/** How deep `v` nests (arrays and objects), counted without recursion, stopping past `limit`. */
function depthOf(v: unknown, limit: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (d > deepest) deepest = d;
    if (deepest > limit) break;
    for (const y of Array.isArray(x) ? x : Object.values(x)) stack.push([y, d + 1]);
  }
  return deepest;
}

/** Reads a census from its JSON text; `source` names it in errors (a file, a PID, a capture record). */
export function parseCensus(text: string, source: string): Census {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CaptureFormatError(`${source}: not a census (not JSON: ${(e as Error).message})`);
  }
  // Whatever reads it later (JSON.stringify for --json) may recurse on its nesting.
  if (depthOf(raw, MAX_CENSUS_DEPTH) > MAX_CENSUS_DEPTH) throw new CaptureFormatError(`${source}: not a census (nested deeper than ${MAX_CENSUS_DEPTH} levels)`);
  const o = obj(raw, source);
  if (o['kind'] !== 'census') throw new CaptureFormatError(`${source}: not a census (kind is ${JSON.stringify(o['kind'])})`);
  const types = arr(o['types'], `${source} types`).map((t, i) => {
    const e = obj(t, `${source} types[${i}]`);
    return { type: str(e, 'type', source), count: count(e, 'count', `${source} types[${i}]`), bytes: bytes(e, 'bytes', `${source} types[${i}]`) };
  });
  const largest = arr(o['largest_objects'] ?? [], `${source} largest_objects`).map((t, i) => {
    const e = obj(t, `${source} largest_objects[${i}]`);
    const where = `${source} largest_objects[${i}]`;
    // length is len() of the object, or -1 when it has none.
    const length = num(e, 'length', where);
    if (!(Number.isSafeInteger(length) && length >= -1)) throw new CaptureFormatError(`${where}: 'length' is ${length}, not a length (or -1)`);
    return { type: str(e, 'type', source), bytes: bytes(e, 'bytes', where), length, id: num(e, 'id', source) };
  });
  const gcRaw = o['gc'];
  const gc =
    gcRaw !== undefined && gcRaw !== null
      ? (() => {
          const g = obj(gcRaw, `${source} gc`);
          return {
            enabled: g['enabled'] === true,
            counts: counts(g, 'counts', `${source} gc`),
            thresholds: counts(g, 'thresholds', `${source} gc`),
            frozen: g['frozen'] === undefined || g['frozen'] === null ? null : count(g, 'frozen', `${source} gc`),
            garbage: g['garbage'] === undefined || g['garbage'] === null ? 0 : count(g, 'garbage', `${source} gc`),
          };
        })()
      : undefined;
  const pathsRaw = o['paths'];
  const paths =
    pathsRaw !== undefined && pathsRaw !== null
      ? arr(obj(pathsRaw, `${source} paths`)['results'], `${source} paths.results`).map((p, i) => {
          const e = obj(p, `${source} paths[${i}]`);
          const path = e['path'];
          return {
            ...(typeof e['id'] === 'number' ? { id: e['id'] } : {}),
            ...(typeof e['target'] === 'string' ? { target: e['target'] } : {}),
            path: typeof path === 'string' ? path : null,
            ...(typeof e['reason'] === 'string' ? { reason: e['reason'] } : {}),
          };
        })
      : undefined;
  const groupsRaw = o['path_groups'];
  const pathGroups =
    groupsRaw !== undefined && groupsRaw !== null
      ? arr(groupsRaw, `${source} path_groups`).map((g, i) => {
          const e = obj(g, `${source} path_groups[${i}]`);
          return {
            pattern: typeof e['pattern'] === 'string' ? e['pattern'] : null,
            type: str(e, 'type', `${source} path_groups[${i}]`),
            count: num(e, 'count', `${source} path_groups[${i}]`),
            bytes: num(e, 'bytes', `${source} path_groups[${i}]`),
            example: typeof e['example'] === 'string' ? e['example'] : null,
            ...(typeof e['reason'] === 'string' ? { reason: e['reason'] } : {}),
          };
        })
      : undefined;
  const searchRaw = o['path_search'];
  const pathSearch =
    searchRaw !== undefined && searchRaw !== null
      ? (() => {
          const e = obj(searchRaw, `${source} path_search`);
          return {
            types: arr(e['types'] ?? [], `${source} path_search.types`).filter((t): t is string => typeof t === 'string'),
            visited: num(e, 'visited', `${source} path_search`),
            depth: num(e, 'depth', `${source} path_search`),
            partial: e['partial'] === true,
            bound: typeof e['bound'] === 'string' ? e['bound'] : null,
            pauseMs: num(e, 'pause_ms', `${source} path_search`),
          };
        })()
      : undefined;
  return {
    ...(typeof o['pid'] === 'number' ? { pid: o['pid'] } : {}),
    // Unix time in seconds, and milliseconds: below 2^53, so that differences stay exact.
    time: bounded(o, 'time', source, Number.MAX_SAFE_INTEGER, false),
    pauseMs: bounded(o, 'pause_ms', source, Number.MAX_SAFE_INTEGER, false),
    partial: o['partial'] === true,
    trackedObjects: count(o, 'tracked_objects', source),
    untrackedObjects: count(o, 'untracked_objects', source),
    totalCount: count(o, 'total_count', source),
    totalBytes: bytes(o, 'total_bytes', source),
    types,
    typeCount: count(o, 'type_count', source),
    largest,
    gc,
    paths,
    pathGroups,
    pathSearch,
  };
}

/**
 * The censuses of a capture without the first parts of censuses written twice: the agent writes a near-OOM
 * census as soon as it is taken and again, with its reference paths, when the path search ends (the process
 * may be killed in between). Both have the census's `time`; the later one stands for both.
 */
export function completeCensuses<T extends { readonly json: string }>(records: readonly T[]): T[] {
  const timeOf = (r: T): unknown => {
    try {
      const o = JSON.parse(r.json) as { time?: unknown } | null;
      return typeof o === 'object' && o !== null ? o.time : undefined;
    } catch {
      return undefined;
    }
  };
  const times = records.map(timeOf);
  return records.filter((_, i) => i + 1 >= records.length || typeof times[i] !== 'number' || times[i] !== times[i + 1]);
}

export interface CensusTypeChange {
  readonly type: string;
  readonly countBefore: number;
  readonly countAfter: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}

export interface CensusDiff {
  readonly seconds: number;
  /** By growth in bytes, largest first; then the ones that shrank. */
  readonly changes: readonly CensusTypeChange[];
  readonly totalBytesBefore: number;
  readonly totalBytesAfter: number;
  readonly totalCountBefore: number;
  readonly totalCountAfter: number;
  /** A type not in one census's top list may be missing there only because the list is cut. */
  readonly cut: boolean;
}

/** What accumulated between two censuses of the same process, by type. */
export function diffCensus(before: Census, after: Census): CensusDiff {
  const map = new Map<string, { cb: number; ca: number; bb: number; ba: number }>();
  for (const t of before.types) map.set(t.type, { cb: t.count, ca: 0, bb: t.bytes, ba: 0 });
  for (const t of after.types) {
    const e = map.get(t.type) ?? { cb: 0, ca: 0, bb: 0, ba: 0 };
    e.ca = t.count;
    e.ba = t.bytes;
    map.set(t.type, e);
  }
  const changes = [...map.entries()]
    .map(([type, e]) => ({ type, countBefore: e.cb, countAfter: e.ca, bytesBefore: e.bb, bytesAfter: e.ba }))
    .filter((c) => c.countBefore !== c.countAfter || c.bytesBefore !== c.bytesAfter)
    .sort((a, b) => b.bytesAfter - b.bytesBefore - (a.bytesAfter - a.bytesBefore) || b.countAfter - b.countBefore - (a.countAfter - a.countBefore));
  return {
    seconds: after.time - before.time,
    changes,
    totalBytesBefore: before.totalBytes,
    totalBytesAfter: after.totalBytes,
    totalCountBefore: before.totalCount,
    totalCountAfter: after.totalCount,
    cut: before.typeCount > before.types.length || after.typeCount > after.types.length,
  };
}
