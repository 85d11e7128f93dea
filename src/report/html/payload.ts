// What the HTML report embeds: everything the browser needs to draw the flame graph, the timeline, the
// table and the statistics, in columns of numbers that index an interned string table (no object per
// frame or per snapshot). Built in Node (report-data.ts from the analysis), encoded by payload-writer.ts's
// writePayload() into columns.ts's container, decoded and validated in the browser by decodePayload()
// below: the viewer trusts only what passed it.
//
// Model, in one paragraph: `frames` are distinct (function, file, line) triples; `nodes` is the prefix
// tree of the profiled program's call stacks, parents before children (node 0 is never a frame: it is
// the root, parent -1); a `location` is one (stack node, thread, allocator) with the bytes and count of
// the report's view (peak, leaks or temporary). The browser turns locations into the tree it draws
// (inverted or not, hidden frames merged away, one thread or all). `temporal`, when present, holds per
// location the tick intervals during which its allocations were live, so any time window can be shown.

import { readColumns } from './columns.js';

/** id of the page element that holds the payload (base64 of the deflated column container). */
export const PAYLOAD_ELEMENT_ID = 'memlens-payload';

/** Frame flag bits. A frame may have several (a native frame of the interpreter is NATIVE|INTERPRETER). */
export const FrameFlag = {
  Python: 1,
  Native: 2,
  /** CPython's evaluation machinery (eval loop, vectorcall, runpy): hidden by default. */
  Interpreter: 4,
  /** The import system (`<frozen importlib._bootstrap>`, import_name): hidden by default. */
  Import: 8,
  /** memlens's own code in the target (its bootstrap): hidden by default. */
  Memlens: 16,
  /** A synthetic frame that stands for stacks dropped to fit the report ("other stacks"). */
  Synthetic: 32,
  /** Code of the Python standard library (one of the capture's stdlib directories). */
  Stdlib: 64,
  /** Code of an installed package (site-packages). */
  Library: 128,
} as const;

export type ReportView = 'peak' | 'leaks' | 'temporary';

export interface ReportMeta {
  /** Shown as the page title and heading. */
  readonly title: string;
  readonly memlensVersion: string;
  readonly view: ReportView;
  /** The page starts inverted (allocators at the root). */
  readonly inverted: boolean;
  /** What the view shows, in a sentence ("Allocations live at the high-water mark, 2.1 s into the run"). */
  readonly viewDescription: string;
  readonly captureFile: string;
  readonly commandLine: readonly string[];
  readonly pythonVersion: string;
  readonly pythonAllocator: string;
  readonly pid: number;
  readonly hostname: string;
  /** Unix time in ms when tracking started; null when unknown. */
  readonly startWallMs: number | null;
  readonly durationNs: number;
  readonly peakHeapBytes: number;
  /** ns since start of the high-water mark. */
  readonly peakTimeNs: number | null;
  readonly peakRssBytes: number | null;
  readonly totalAllocations: number;
  readonly totalBytesAllocated: number;
  readonly cgroupLimitBytes: number | null;
  /** Options in force, human-readable ("native stacks", "sampled every 512 KiB"). */
  readonly options: readonly string[];
  readonly captureMode: string;
  /** How the process ended, when known ("exit code 0", "killed by SIGKILL (OOM killer)"). */
  readonly ending: string | null;
  /** What the agent or the reader could not do (notes, decode warnings). */
  readonly notes: readonly string[];
  /** What was reduced to fit the report, and how. Also printed on stderr. */
  readonly reductions: readonly string[];
  /** Set when there is nothing to draw: the page says this instead. */
  readonly emptyReason: string | null;
  /** The OOM verdict (memlens verdict), shown as a panel at the top; null when not computed. */
  readonly verdict: VerdictPanel | null;
}

/** The verdict as the page shows it: plain strings, formatted in Node (src/report/verdict.ts). */
export interface VerdictPanel {
  /** `oom`: killed by the OOM killer; `killed`: another signal or an abrupt end; `ok`: exited or stopped. */
  readonly severity: 'oom' | 'killed' | 'ok';
  readonly headline: string;
  /** The kernel's OOM line, when there is one. */
  readonly detail: string;
  /** Label and value pairs: peaks against the limit, last snapshot, near OOM, GC, threads. */
  readonly facts: readonly (readonly [string, string])[];
  readonly growthTitle: string;
  readonly growth: readonly { readonly bytes: string; readonly count: string; readonly where: string }[];
  readonly findings: readonly { readonly title: string; readonly evidence: readonly string[]; readonly advice: string }[];
  /** Findings the capture cannot show, with why (`memory that accumulated (no snapshot …)`). */
  readonly notLookedFor: readonly string[];
  /** The census of live objects the capture holds (its top types), shown beside what grew; null: none. */
  readonly census: {
    readonly title: string;
    readonly note: string;
    readonly types: readonly { readonly type: string; readonly count: string; readonly bytes: string; readonly share: string }[];
    /** Its objects grouped by the path that keeps them alive, largest first (none without a search). */
    readonly paths: readonly { readonly path: string; readonly type: string; readonly count: string; readonly bytes: string }[];
    /** What the path search could not cover, or ''. */
    readonly pathsNote: string;
  } | null;
}

export interface ReportData {
  readonly meta: ReportMeta;
  readonly strings: readonly string[];
  readonly frames: {
    /** String indices. */
    readonly name: Int32Array;
    readonly file: Int32Array;
    readonly line: Int32Array;
    /** String index of the source line's text, -1 when not available. */
    readonly source: Int32Array;
    readonly flags: Int32Array;
  };
  readonly nodes: {
    /** Parent node index, -1 for node 0 (the root). Always smaller than the node's own index. */
    readonly parent: Int32Array;
    /** Frame index; -1 for the root. */
    readonly frame: Int32Array;
  };
  readonly threads: {
    readonly name: Int32Array;
    readonly tid: Float64Array;
  };
  readonly locations: {
    readonly node: Int32Array;
    readonly thread: Int32Array;
    /** Allocator name, string index ("malloc", "pymalloc", "mmap"). */
    readonly allocator: Int32Array;
    readonly bytes: Float64Array;
    readonly count: Float64Array;
  };
  readonly timeline: {
    /** ns since tracking started. */
    readonly time: Float64Array;
    readonly rss: Float64Array;
    readonly rssAnon: Float64Array;
    readonly rssFile: Float64Array;
    /** Tracked heap at the snapshot. */
    readonly heap: Float64Array;
    /** cgroup memory usage; empty when the capture has none. */
    readonly cgroupUsage: Float64Array;
  };
  readonly markers: {
    readonly time: Float64Array;
    /** String index of the kind ("near OOM", "attach", "fork", "GC"). */
    readonly kind: Int32Array;
    readonly label: Int32Array;
  };
  readonly temporal: TemporalData | null;
}

/**
 * Live intervals in ticks. A tick is a span of the run (one or more snapshot intervals). With kind 'peak',
 * index k stands for the moment of the highest heap inside tick k, and an interval [start, end) means its
 * allocations were live at the peak moments start … end-1. With kind 'leaks', [start, end) means allocated
 * in tick start and freed in tick end (end = tickEnd.length: never freed).
 */
export interface TemporalData {
  readonly kind: 'peak' | 'leaks';
  /** ns since start at which each tick ends. */
  readonly tickEnd: Float64Array;
  /** Highest tracked heap inside each tick ('peak' kind). */
  readonly tickPeakHeap: Float64Array;
  /** ns since start of that highest point ('peak' kind). */
  readonly tickPeakTime: Float64Array;
  readonly location: Int32Array;
  readonly start: Int32Array;
  readonly end: Int32Array;
  readonly count: Float64Array;
  readonly bytes: Float64Array;
}

/** Decodes and validates: every index points inside its table, so the viewer never reads out of range. */
export function decodePayload(bytes: Uint8Array): ReportData {
  const cols = readColumns(bytes);
  const get = <T>(name: string, check: (v: unknown) => v is T, what: string): T => {
    const v = cols.get(name);
    if (!check(v)) throw new RangeError(`report payload: column '${name}' is missing or not ${what}`);
    return v;
  };
  const i32 = (name: string): Int32Array => get(name, (v): v is Int32Array => v instanceof Int32Array, 'indices');
  const f64 = (name: string): Float64Array => get(name, (v): v is Float64Array => v instanceof Float64Array, 'numbers');
  const meta = get('meta', (v): v is ReportMeta => typeof v === 'object' && v !== null && 'view' in v, 'metadata');
  if (meta.verdict === undefined) (meta as { verdict: VerdictPanel | null }).verdict = null;
  if (meta.verdict !== null && !isVerdictPanel(meta.verdict)) throw new RangeError('report payload: the verdict panel is malformed');
  const strings = get('strings', (v): v is string[] => Array.isArray(v), 'strings');
  const d: ReportData = {
    meta,
    strings,
    frames: { name: i32('frames.name'), file: i32('frames.file'), line: i32('frames.line'), source: i32('frames.source'), flags: i32('frames.flags') },
    nodes: { parent: i32('nodes.parent'), frame: i32('nodes.frame') },
    threads: { name: i32('threads.name'), tid: f64('threads.tid') },
    locations: {
      node: i32('locations.node'),
      thread: i32('locations.thread'),
      allocator: i32('locations.allocator'),
      bytes: f64('locations.bytes'),
      count: f64('locations.count'),
    },
    timeline: {
      time: f64('timeline.time'),
      rss: f64('timeline.rss'),
      rssAnon: f64('timeline.rssAnon'),
      rssFile: f64('timeline.rssFile'),
      heap: f64('timeline.heap'),
      cgroupUsage: f64('timeline.cgroupUsage'),
    },
    markers: { time: f64('markers.time'), kind: i32('markers.kind'), label: i32('markers.label') },
    temporal: cols.has('temporal.kind')
      ? {
          kind: get('temporal.kind', (v): v is 'peak' | 'leaks' => v === 'peak' || v === 'leaks', "'peak' or 'leaks'"),
          tickEnd: f64('temporal.tickEnd'),
          tickPeakHeap: f64('temporal.tickPeakHeap'),
          tickPeakTime: f64('temporal.tickPeakTime'),
          location: i32('temporal.location'),
          start: i32('temporal.start'),
          end: i32('temporal.end'),
          count: f64('temporal.count'),
          bytes: f64('temporal.bytes'),
        }
      : null,
  };
  validatePayload(d);
  return d;
}

function checkRange(name: string, values: Int32Array, lo: number, hi: number): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? 0;
    if (v < lo || v >= hi) throw new RangeError(`report payload: ${name}[${i}] = ${v} is outside [${lo}, ${hi})`);
  }
}

function checkLength(name: string, n: number, ...columns: ArrayLike<number>[]): void {
  for (const c of columns) if (c.length !== n) throw new RangeError(`report payload: ${name} columns differ in length`);
}

export function validatePayload(d: ReportData): void {
  const ns = d.strings.length;
  const nf = d.frames.name.length;
  checkLength('frames', nf, d.frames.file, d.frames.line, d.frames.source, d.frames.flags);
  checkRange('frames.name', d.frames.name, 0, ns);
  checkRange('frames.file', d.frames.file, 0, ns);
  checkRange('frames.source', d.frames.source, -1, ns);
  const nn = d.nodes.parent.length;
  checkLength('nodes', nn, d.nodes.frame);
  if (nn === 0 || d.nodes.parent[0] !== -1 || d.nodes.frame[0] !== -1) throw new RangeError('report payload: node 0 must be the root');
  for (let i = 1; i < nn; i++) {
    const p = d.nodes.parent[i] ?? -1;
    if (p < 0 || p >= i) throw new RangeError(`report payload: nodes.parent[${i}] = ${p} is not an earlier node`);
  }
  checkRange('nodes.frame', d.nodes.frame.subarray(1), 0, nf);
  const nt = d.threads.name.length;
  checkLength('threads', nt, d.threads.tid);
  checkRange('threads.name', d.threads.name, 0, ns);
  const nl = d.locations.node.length;
  checkLength('locations', nl, d.locations.thread, d.locations.allocator, d.locations.bytes, d.locations.count);
  checkRange('locations.node', d.locations.node, 0, nn);
  checkRange('locations.thread', d.locations.thread, 0, nt);
  checkRange('locations.allocator', d.locations.allocator, 0, ns);
  const tl = d.timeline;
  checkLength('timeline', tl.time.length, tl.rss, tl.rssAnon, tl.rssFile, tl.heap);
  if (tl.cgroupUsage.length !== 0) checkLength('timeline', tl.time.length, tl.cgroupUsage);
  checkLength('markers', d.markers.time.length, d.markers.kind, d.markers.label);
  checkRange('markers.kind', d.markers.kind, 0, ns);
  checkRange('markers.label', d.markers.label, 0, ns);
  const t = d.temporal;
  if (t !== null) {
    const nticks = t.tickEnd.length;
    checkLength('temporal ticks', nticks, t.tickPeakHeap, t.tickPeakTime);
    checkLength('temporal intervals', t.location.length, t.start, t.end, t.count, t.bytes);
    checkRange('temporal.location', t.location, 0, nl);
    checkRange('temporal.start', t.start, 0, nticks + 1);
    checkRange('temporal.end', t.end, 0, nticks + 1);
  }
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);

/** The panel's shape, checked before the page reads it (its strings come from the profiled program). */
export function isVerdictPanel(v: unknown): v is VerdictPanel {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return (
    (p['severity'] === 'oom' || p['severity'] === 'killed' || p['severity'] === 'ok') &&
    isString(p['headline']) &&
    isString(p['detail']) &&
    isString(p['growthTitle']) &&
    Array.isArray(p['facts']) &&
    p['facts'].every((f) => isStringArray(f) && f.length === 2) &&
    Array.isArray(p['growth']) &&
    p['growth'].every(
      (g) =>
        typeof g === 'object' && g !== null && isString((g as Record<string, unknown>)['bytes']) && isString((g as Record<string, unknown>)['count']) && isString((g as Record<string, unknown>)['where']),
    ) &&
    Array.isArray(p['findings']) &&
    p['findings'].every((f) => {
      if (typeof f !== 'object' || f === null) return false;
      const r = f as Record<string, unknown>;
      return isString(r['title']) && isString(r['advice']) && isStringArray(r['evidence']);
    }) &&
    isStringArray(p['notLookedFor']) &&
    (p['census'] === null || isCensusPanel(p['census']))
  );
}

function isCensusPanel(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Record<string, unknown>;
  return (
    isString(c['title']) &&
    isString(c['note']) &&
    Array.isArray(c['types']) &&
    c['types'].every((t) => {
      if (typeof t !== 'object' || t === null) return false;
      const r = t as Record<string, unknown>;
      return isString(r['type']) && isString(r['count']) && isString(r['bytes']) && isString(r['share']);
    }) &&
    isString(c['pathsNote']) &&
    Array.isArray(c['paths']) &&
    c['paths'].every((t) => {
      if (typeof t !== 'object' || t === null) return false;
      const r = t as Record<string, unknown>;
      return isString(r['path']) && isString(r['type']) && isString(r['count']) && isString(r['bytes']);
    })
  );
}
