// What a live view shows, as plain data: the contract between the session (live-session.ts, which computes
// it) and the views that draw it (tui-render.ts in a terminal; viewer/src/live/ in a browser, which gets it
// as JSON from web.ts and imports these types as report/html/payload.ts's are imported by the report).
// Types only, and nothing the browser bundle could not carry.

import type { Sparkline } from '../analysis/sparkline.js';
import type { ExitRecord } from '../capture/records.js';
import type { FrameFilter } from '../model/frames.js';

export type { Sparkline };

export type SortKey = 'total' | 'own' | 'count';
export const SORT_KEYS: readonly SortKey[] = ['total', 'own', 'count'];

export interface ViewOptions {
  readonly sort: SortKey;
  /** A thread index (LiveThread.index) to show alone; undefined: every thread merged. */
  readonly thread?: number | undefined;
  /** Locations listed at most. */
  readonly maxRows: number;
  /** Points of the sparkline (one per terminal column, say). */
  readonly sparkPoints: number;
  /** Time the sparkline covers at most, ending now (default 2 minutes; a younger capture's whole life, 10 s at least). */
  readonly sparkWindowNs?: number | undefined;
  readonly filter?: FrameFilter | undefined;
}

export interface LiveLocation {
  readonly function: string;
  /** Relative to the target's working directory when inside it; '' when unknown. */
  readonly file: string;
  /** 0 when unknown. */
  readonly line: number;
  /** Live bytes of every stack this location is on, and of those where it is the allocating frame. */
  readonly totalBytes: number;
  readonly ownBytes: number;
  /** Live allocations in its total, and in its own. */
  readonly count: number;
  readonly ownCount: number;
}

export interface LiveThread {
  /** Dense index, what ViewOptions.thread names (the list is in display order: the main thread first). */
  readonly index: number;
  readonly osTid: number;
  readonly name: string;
  readonly liveBytes: number;
  readonly exited: boolean;
}

export type EndKind = 'exit' | 'signal' | 'exited' | 'detached' | 'stopped' | 'disconnected' | 'error';

export interface LiveEnd {
  readonly kind: EndKind;
  /** One line for the user: `Exited with status 3 at 4.210 s; not killed (so not by the OOM killer).`, `disconnected: …`. */
  readonly text: string;
  readonly exit: ExitRecord | undefined;
}

export interface LiveView {
  /** The capture's header has arrived (before that, only `end` may be set). */
  readonly started: boolean;
  readonly pid: number;
  /** The command line, the interpreter named without its directory. */
  readonly command: string;
  readonly pythonVersion: string;
  readonly mode: 'run' | 'attach' | '';
  readonly aggregated: boolean;
  /** A sampled capture's rate in bytes (its figures are estimates); undefined: every allocation. */
  readonly sampledEvery?: number | undefined;
  /** Time since tracking started (ns): by the clock while the stream runs, by the last record once it ended. */
  readonly elapsedNs: number;
  readonly heap: number;
  readonly peakHeap: number;
  readonly liveCount: number;
  /** Allocations seen so far. */
  readonly allocations: number;
  /** From the latest memory snapshot; undefined before the first. */
  readonly rss: number | undefined;
  readonly peakRss: number | undefined;
  readonly cgroupUsage: number | undefined;
  /** The cgroup memory limit, when the target has one. */
  readonly cgroupLimit: number | undefined;
  readonly spark: Sparkline;
  readonly threads: readonly LiveThread[];
  /** The thread shown alone (undefined: all merged); an index the view does not know reads as all. */
  readonly thread: number | undefined;
  readonly sort: SortKey;
  /** Live bytes and allocations of the shown threads: what the shares are of. */
  readonly shownBytes: number;
  readonly shownCount: number;
  readonly locations: readonly LiveLocation[];
  /** Locations past `maxRows`. */
  readonly moreLocations: number;
  /** Damaged regions met in the stream. */
  readonly damaged: number;
  readonly end: LiveEnd | undefined;
}
