// The program's end, as leak hunting means it (docs/reports.md "Which end"). Under `memlens run` the
// bootstrap marks it when the interpreter exits, after the program's code, its non-daemon threads and its
// exit handlers (a PROGRAM_END marker), then releases the script's module-level names, collects cycles once
// and stops tracking. So two moments matter:
//   - "live at the end" (leaks.ts, the verdict's section, --leaks) is what was still live when tracking
//     stopped: what only the script's names held was freed by then, and is no leak;
//   - the program's own behaviour (the findings' series, what grew in the last seconds, lifetimes of large
//     objects, the GC report) stops at the marker: the release is memlens's, not a plateau, a sawtooth or
//     a collection of the program, and a program that accumulated to its end still accumulated.
// An attach, a detach, --duration and a program's own Tracker.stop() are not the program's end: no marker,
// and the end is when tracking stopped. Pure.

import { MARKER_KINDS } from '../capture/format.js';
import type { MarkerRecord } from '../capture/records.js';
import type { SiteId } from '../model/ids.js';
import type { CaptureModel, SnapshotSeries } from '../model/model.js';
import type { ReadonlySiteTable } from '../model/site-table.js';
import type { LiveSeriesResult } from './live-series.js';

const PROGRAM_END = MARKER_KINDS.indexOf('program-end');

export interface ProgramEnd {
  readonly seq: number;
  /** ns since tracking started. */
  readonly timeNs: number;
  /** The script's module-level names were released after it (the marker's label `released`). */
  readonly released: boolean;
  /** Why they were not, in the bootstrap's words (`1 other thread still running ('poller')`); '' when released. */
  readonly keptBecause: string;
}

/** Whether a marker is the program's end. */
export function isProgramEndMarker(m: MarkerRecord): boolean {
  return m.kind === PROGRAM_END;
}

/** The capture's PROGRAM_END marker (the first, should there be more), or undefined: an older capture, an attach, a kill. */
export function programEndOf(model: Pick<CaptureModel, 'markers'>): ProgramEnd | undefined {
  const m = model.markers.find(isProgramEndMarker);
  if (m === undefined) return undefined;
  const released = m.label === 'released';
  const kept = /^kept: (.*)$/s.exec(m.label);
  return { seq: m.seq, timeNs: m.timeNs, released, keptBecause: released ? '' : (kept?.[1] ?? m.label) };
}

/**
 * Whether a record with a seq and a time (a GC record) belongs to the program, before its end. A marker's
 * seq is the next event's, as a snapshot's: a collection that ended just before it, with no event between,
 * has the same seq, and the time tells them apart.
 */
export function beforeProgramEnd(r: { readonly seq: number; readonly timeNs: number }, end: ProgramEnd): boolean {
  return r.seq < end.seq || (r.seq === end.seq && r.timeNs <= end.timeNs);
}

/**
 * The model as it stood at the program's end, for the detectors (findings/index.ts): each site's live bytes
 * and count, and the heap, are those at the last tick of `series`, which the forensics froze at the marker
 * (forensics.ts); the snapshots and GC records are those before the marker. Everything else is the model's
 * own. `model` itself when the capture has no program end.
 */
export function modelAtProgramEnd(model: CaptureModel, series: LiveSeriesResult, end: ProgramEnd | undefined): CaptureModel {
  if (end === undefined) return model;
  const n = series.tickEnd.length;
  const size = model.sites.size;
  const liveBytes = new Float64Array(size);
  const liveCount = new Float64Array(size);
  let heap = 0;
  let count = 0;
  for (let i = 0; i < series.site.length; i++) {
    if (series.end[i] !== n) continue;
    const s = series.site[i]!;
    if (s >= size) continue;
    liveBytes[s] = series.bytes[i]!;
    liveCount[s] = series.count[i]!;
    heap += series.bytes[i]!;
    count += series.count[i]!;
  }
  const sites = model.sites;
  const view: ReadonlySiteTable = {
    get size() {
      return sites.size;
    },
    columns: { ...sites.columns, liveBytes: { array: liveBytes }, liveCount: { array: liveCount } },
    // The values at the peak are the whole capture's (they read the table's own live columns).
    peak: sites.peak,
    pyStack: (s: SiteId) => sites.pyStack(s),
    nativeStack: (s: SiteId) => sites.nativeStack(s),
    thread: (s: SiteId) => sites.thread(s),
    allocator: (s: SiteId) => sites.allocator(s),
    get byteLength() {
      return sites.byteLength;
    },
  };
  const s = model.snapshots;
  let k = 0;
  while (k < s.seq.length && beforeProgramEnd({ seq: s.seq[k]!, timeNs: s.timeNs[k]! }, end)) k++;
  const snapshots = k === s.seq.length ? s : (Object.fromEntries(Object.entries(s).map(([key, v]) => [key, v.slice(0, k)])) as unknown as SnapshotSeries);
  return { ...model, sites: view, endHeap: heap, endLiveCount: count, snapshots, gcs: model.gcs.filter((g) => beforeProgramEnd(g, end)) };
}
