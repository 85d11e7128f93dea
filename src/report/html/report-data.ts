// From a capture's analysis to what the HTML report embeds (payload.ts). Pure: the source lines are read
// by the caller (src/cli) and handed in as a function.
//
// Every frame of every stack goes in, hidden kinds included (flagged), so the page can show or hide them
// without a second report. What does not fit the budgets is reduced, and each reduction says so.

import { samplingNote } from '../../model/sampling.js';
import { ALLOCATORS, MARKER_KINDS, OPTION_AGGREGATE, OPTION_FOLLOW_FORK, OPTION_NATIVE, OPTION_PYTHON_ALLOCATORS, OPTION_SAMPLED } from '../../capture/format.js';
import type { AllocationSet } from '../../analysis/allocation-set.js';
import type { GcReport } from '../../analysis/gc.js';
import type { LeakTimelineResult } from '../../analysis/leak-timeline.js';
import { describeEndMoment, describeEndingBrief, endingOf } from '../../analysis/ending.js';
import { threadLabel } from '../../model/thread-name.js';
import { markersWithPressure } from '../../analysis/memory-pressure.js';
import { memoryLimitOf } from '../../analysis/memory-limit.js';
import { thinSeries } from '../../analysis/memory-timeline.js';
import type { PeakTimelineResult } from '../../analysis/peak-timeline.js';
import type { Frame } from '../../model/frames.js';
import { type FrameId, NO_PY_NODE, type NativeNodeId1, type PyNodeId1, type SiteId } from '../../model/ids.js';
import type { CaptureModel } from '../../model/model.js';
import { leaksAllocatorNote, markerLabelText } from '../describe.js';
import { FrameFlag, type ReportData, type ReportView, type TemporalData, type VerdictPanel } from './payload.js';
import { PairIndex, ReportDataBuilder } from './report-builder.js';
import { impossibleNote } from '../describe.js';
import { formatCount } from '../../util/units.js';

export interface ReportLimits {
  /** Timeline points kept (min/max thinning above). */
  readonly maxSnapshots: number;
  /** Distinct stack nodes kept; the smallest sites beyond go to one "other stacks" frame per thread. */
  readonly maxNodes: number;
  /** GC markers kept on the timeline (those of the longest pauses); default 20,000. */
  readonly maxGcMarkers?: number;
}

export const DEFAULT_LIMITS: ReportLimits = { maxSnapshots: 1_000_000, maxNodes: 1_500_000, maxGcMarkers: 20_000 };

export interface ReportDataOptions {
  readonly view: ReportView;
  readonly set: AllocationSet;
  readonly inverted: boolean;
  readonly captureFile: string;
  readonly memlensVersion: string;
  /** The text of a source line, or null; null instead of a function: leave source out. */
  readonly sourceLine: ((file: string, line: number) => string | null) | null;
  /** Told every (file, line) sourceLine may be asked for, before it is first asked (so a reader keeps only those). */
  readonly wantSourceLine?: ((file: string, line: number) => void) | undefined;
  /** Live intervals: per peak moment for the peak view, lifetimes for the leaks view. */
  readonly temporal: PeakTimelineResult | LeakTimelineResult | null;
  /** When the high-water mark happened (ns since start), if known. */
  readonly peakTimeNs?: number | null;
  /** Temporary-allocation threshold, for the view's description. */
  readonly threshold?: number;
  /** The verdict panel shown at the top of the page. */
  readonly verdict?: VerdictPanel | null;
  /** The collector's report: the memory each collection freed goes into its marker's label. */
  readonly gc?: GcReport | undefined;
  readonly limits?: ReportLimits;
}

const MEMLENS_FILE = /(^|\/)memlens_(bootstrap|agent)\.py$|(^|\/)memlens\/agent\//;

export function frameFlags(f: Frame): number {
  let flags = f.native ? FrameFlag.Native : FrameFlag.Python;
  if (f.kind === 'import') flags |= FrameFlag.Import;
  else if (f.kind === 'internal') flags |= MEMLENS_FILE.test(f.file) ? FrameFlag.Memlens : FrameFlag.Interpreter;
  if (f.moduleType === 'stdlib') flags |= FrameFlag.Stdlib;
  else if (f.moduleType === 'site-packages') flags |= FrameFlag.Library;
  return flags;
}

function fmtBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v.toFixed(0) : v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/**
 * `1,234,567`: what Math.round(n).toLocaleString('en-US') writes, written without it for every count the
 * page can have (whole numbers below 10^21, but −0). The first toLocaleString of a process loads ICU's
 * number-format data, and 5 MiB of node's own file stayed resident from then on: the highest moment of
 * the flame graph's memory (docs/benchmarks.md, "Reports, round eight").
 * Here, not in util/units.ts: the viewer's bundle takes its formatting from there, and a function more
 * there changed the bundle's minified names, so the page's bytes.
 */
export function fmtCount(n: number): string {
  const r = Math.round(n);
  return Number.isFinite(r) && Math.abs(r) < 1e21 && !Object.is(r, -0) ? formatCount(r) : r.toLocaleString('en-US');
}

function viewDescription(model: CaptureModel, o: ReportDataOptions, peakTimeNs: number | null): string {
  const set = o.set;
  const amount = `${fmtBytes(set.totalBytes)} in ${fmtCount(set.totalCount)} allocations`;
  switch (o.view) {
    case 'peak':
      return `Allocations live at the high-water mark of the tracked heap: ${amount}${peakTimeNs !== null ? `, ${(peakTimeNs / 1e9).toFixed(2)} s into the run` : ''}`;
    case 'leaks':
      return `Allocations still live at the end (${describeEndMoment(endingOf(model), model.header.mode === 2)}; possible leaks): ${amount}`;
    case 'temporary':
      return `Temporary allocations, freed after at most ${o.threshold ?? 1} other allocation${(o.threshold ?? 1) === 1 ? '' : 's'} by the same thread, over the whole run: ${amount}`;
  }
}

function ending(model: CaptureModel): string | null {
  const e = endingOf(model);
  const brief = describeEndingBrief(e);
  return e.detail !== '' ? `${brief}: ${e.detail}` : brief;
}

// The options a user chose (options bit 32, GC_START records, is the format's, not theirs: not listed).
function optionsInForce(model: CaptureModel): string[] {
  const h = model.header;
  const out: string[] = [];
  if ((h.options & OPTION_NATIVE) !== 0) out.push('native stacks');
  if ((h.options & OPTION_PYTHON_ALLOCATORS) !== 0) out.push('Python allocators traced');
  if ((h.options & OPTION_AGGREGATE) !== 0) out.push('aggregated');
  if ((h.options & OPTION_SAMPLED) !== 0) out.push(`sampled every ${fmtBytes(h.sampleRateBytes)}`);
  if ((h.options & OPTION_FOLLOW_FORK) !== 0) out.push('follow fork');
  if (h.memoryIntervalMs > 0) out.push(`snapshot every ${h.memoryIntervalMs} ms`);
  return out;
}

function emptyReason(model: CaptureModel, o: ReportDataOptions): string | null {
  if ((o.set.columns?.site.length ?? o.set.sites.length) > 0) return null;
  if (model.allocations === 0) {
    return 'The capture holds no allocations: tracking stopped before the program allocated anything, or the agent could not install its hooks (see the notes in Statistics).';
  }
  switch (o.view) {
    case 'leaks':
      return `Nothing tracked was still live when tracking ended: no leaks among the ${fmtCount(model.allocations)} allocations seen.`;
    case 'temporary':
      return `None of the ${fmtCount(model.allocations)} allocations was temporary (freed after at most ${o.threshold ?? 1} other allocations by its thread).`;
    default:
      return 'No allocation was live at the high-water mark.';
  }
}

export interface ReportDataResult {
  readonly data: ReportData;
  /** Also in data.meta.reductions; the CLI prints them on stderr. */
  readonly reductions: readonly string[];
}

export function buildReportData(model: CaptureModel, o: ReportDataOptions): ReportDataResult {
  const limits = o.limits ?? DEFAULT_LIMITS;
  const b = new ReportDataBuilder();
  const reductions: string[] = [];
  const sites = model.sites;
  for (const t of model.threads) b.thread(threadLabel(model, t), t.osTid);
  if (model.threads.length === 0) b.thread('main', model.header.mainTid);

  // Which sites go in: the view's (index i < inSet of `order`, its amounts at i of the set's columns), plus
  // those that only the time windows need (amounts 0). Read from the set's columns when it has them: its
  // `sites` objects are made only when read (allocation-set.ts), ~80 bytes a site.
  const cols = o.set.columns;
  const setSites = cols === undefined ? o.set.sites : undefined;
  const inSet = cols !== undefined ? cols.site.length : setSites!.length;
  let order: Int32Array = cols !== undefined ? cols.site : Int32Array.from(setSites!, (s) => s.site);
  if (o.temporal !== null) {
    const member = new Uint8Array(sites.size);
    for (let i = 0; i < inSet; i++) member[order[i]!] = 1;
    const extra = new Map<SiteId, number>();
    for (let i = 0; i < o.temporal.site.length; i++) {
      const s = o.temporal.site[i] as SiteId;
      if (member[s] !== 1) extra.set(s, Math.max(extra.get(s) ?? 0, o.temporal.bytes[i]!));
    }
    if (extra.size > 0) {
      const all = new Int32Array(inSet + extra.size);
      all.set(order.subarray(0, inSet));
      let at = inSet;
      for (const [s] of [...extra].sort((x, y) => y[1] - x[1] || x[0] - y[0])) all[at++] = s;
      order = all;
    }
  }

  const frames = model.frames;
  if (o.sourceLine !== null && o.wantSourceLine !== undefined) wantSourceLines(model, order, o.wantSourceLine);
  // Model frame → payload frame (−1: not made yet).
  const frameMap = new Int32Array(frames.frames.length).fill(-1);
  const payloadFrame = (id: FrameId): number => {
    let pf = frameMap[id]!;
    if (pf < 0) {
      const f = frames.frame(id);
      const source = !f.native && f.line > 0 && o.sourceLine !== null ? o.sourceLine(f.file, f.line) : null;
      pf = b.uniqueFrame(f.function, f.file, f.line, frameFlags(f), source);
      frameMap[id] = pf;
    }
    return pf;
  };
  // Every frame of every stack goes in (frames.stack() with every kind shown: the Python frames root first,
  // then all the native ones), made one node at a time without an array per site: a Python stack node's
  // payload node is kept (−1: not made yet), and its callers' were made before it. The frames and nodes are
  // made in the order a stack's frames root first would make them, so the page's bytes are the same.
  // Kept in a hash of the nodes met rather than an array over every Python node: call_sites at 5 % has 1.47 M
  // of them, of which its peak's 9 k sites reach 106 k.
  const nodeOfPy = new PairIndex();
  const climb: number[] = [];
  const pyNode = (py: PyNodeId1): number => {
    let n = py;
    let node = n === NO_PY_NODE ? 0 : nodeOfPy.get(n, 0);
    while (node === -1) {
      climb.push(n);
      n = frames.pyParentOf(n);
      node = n === NO_PY_NODE ? 0 : nodeOfPy.get(n, 0);
    }
    while (climb.length > 0) {
      const m = climb.pop()! as PyNodeId1;
      node = b.node(node, payloadFrame(frames.pyFrameOf(m)));
      nodeOfPy.set(m, 0, node);
    }
    return node;
  };
  const stackNode = (py: PyNodeId1, nat: NativeNodeId1): number => {
    let node = pyNode(py);
    if (nat > 0) {
      for (let n = nat; n > 0; n = frames.nativeParentOf(n)) climb.push(frames.nativeFrameOf(n));
      while (climb.length > 0) node = b.node(node, payloadFrame(climb.pop()! as FrameId));
    }
    return node;
  };
  // (Python node, native node) of a site already drawn → its node: past the node budget, a site whose stack
  // is drawn goes to it, and the others to "other stacks".
  const nodeOfPair = new PairIndex();
  const siteLocation = o.temporal !== null ? new Int32Array(sites.size) : null;
  let dropped = 0;
  let droppedBytes = 0;
  const other = new Map<number, number>();
  for (let i = 0; i < order.length; i++) {
    const site = order[i]! as SiteId;
    const py = sites.pyStack(site);
    const nat = sites.nativeStack(site);
    const thread = model.threads.length === 0 ? 0 : sites.thread(site);
    const allocator = ALLOCATORS[sites.allocator(site)] ?? 'other';
    // Math.round: a sampled capture's figures are estimates (sums of weights 1/p), and the page stores whole
    // numbers (the payload writer refuses fractions); an exact capture's are whole already.
    const bytes = i >= inSet ? 0 : Math.round(cols !== undefined ? cols.bytes[i]! : setSites![i]!.bytes);
    const count = i >= inSet ? 0 : Math.round(cols !== undefined ? cols.count[i]! : setSites![i]!.count);
    let node = nodeOfPair.get(py, nat);
    if (node === -1 && b.nodeCount < limits.maxNodes) {
      node = stackNode(py, nat);
      nodeOfPair.set(py, nat, node);
    }
    if (node === -1) {
      // Over the node budget: this site (smaller than every one kept, by the order above) joins "other".
      dropped++;
      droppedBytes += bytes;
      let n = other.get(thread);
      if (n === undefined) {
        n = b.node(0, b.frame('[other stacks, reduced to fit]', '', 0, FrameFlag.Synthetic));
        other.set(thread, n);
      }
      node = n;
    }
    const at = b.add(node, thread, allocator, bytes, count);
    if (siteLocation !== null) siteLocation[site] = at;
  }
  if (dropped > 0) {
    reductions.push(
      `stacks: the ${fmtCount(dropped)} smallest allocation sites (${fmtBytes(droppedBytes)}) are drawn as one "[other stacks]" frame per thread, to keep ${fmtCount(limits.maxNodes)} stack nodes`,
    );
  }

  // The timeline, thinned with its peaks kept when it is longer than the budget.
  const s = model.snapshots;
  const keep = thinSeries(s, limits.maxSnapshots);
  if (keep.length < s.seq.length) {
    reductions.push(
      `timeline: ${fmtCount(s.seq.length)} snapshots thinned to ${fmtCount(keep.length)} (in each group of consecutive snapshots, the ones with the highest RSS and the highest heap are kept)`,
    );
  }
  const hasCgroup = s.cgroupUsage.some((v) => !Number.isNaN(v));
  const num = (v: number | undefined): number => (v === undefined || !Number.isFinite(v) ? 0 : Math.max(0, Math.round(v)));
  for (const i of keep) {
    b.snapshot(num(s.timeNs[i]), num(s.rss[i]), num(s.rssAnon[i]), num(s.rssFile[i]), num(s.heap[i]), hasCgroup ? num(s.cgroupUsage[i]) : undefined);
  }
  for (const m of markersWithPressure(model)) {
    b.marker(num(m.timeNs), (MARKER_KINDS[m.kind] ?? 'marker').replace(/-/g, ' ').replace('near oom', 'near OOM'), markerLabelText(m.label));
  }
  for (const f of model.forks) b.marker(num(f.timeNs), 'fork', `child ${f.childPid}`);
  addGcMarkers(b, model, o.gc, limits.maxGcMarkers ?? 20_000, reductions);

  let temporal: TemporalData | null = null;
  const t = o.temporal;
  if (t !== null && (o.view === 'peak' || o.view === 'leaks')) {
    const loc = new Int32Array(t.site.length);
    for (let i = 0; i < t.site.length; i++) loc[i] = siteLocation![t.site[i]!]!;
    const peak = 'tickPeakHeap' in t;
    temporal = {
      kind: peak ? 'peak' : 'leaks',
      tickEnd: t.tickEnd.map(Math.round),
      tickPeakHeap: peak ? t.tickPeakHeap.map(Math.round) : new Float64Array(t.tickEnd.length),
      tickPeakTime: peak ? t.tickPeakTime.map(Math.round) : new Float64Array(t.tickEnd.length),
      location: loc,
      start: t.start,
      end: t.end,
      // Estimates in a sampled capture (see the locations' figures above): rounded, in a copy only then.
      count: model.sampling !== undefined ? t.count.map(Math.round) : t.count,
      bytes: model.sampling !== undefined ? t.bytes.map(Math.round) : t.bytes,
    };
    if (t.snapshotsPerTick > 1) {
      reductions.push(`time windows: ${fmtCount(t.snapshotsPerTick)} snapshot intervals per step (${fmtCount(t.tickEnd.length)} steps), so a window snaps to those steps`);
    }
  }
  b.setTemporal(temporal);

  const h = model.header;
  const peakTimeNs = o.view !== 'peak' ? null : o.temporal !== null && 'tickPeakHeap' in o.temporal ? peakTime(o.temporal) : (o.peakTimeNs ?? null);
  let maxRss: number | null = null;
  for (const v of s.rss) if (Number.isFinite(v) && (maxRss === null || v > maxRss)) maxRss = v;
  const leaksNote = o.view === 'leaks' ? leaksAllocatorNote(model, { kind: 'leaks' }) : undefined;
  const notes = [
    ...(model.sampling !== undefined ? [`Every figure is ${samplingNote(model.sampling, fmtBytes)}; allocations of ${fmtBytes(model.sampling.exactBytes)} or more are exact (docs/sampling.md).`] : []),
    ...(leaksNote !== undefined ? [leaksNote] : []),
    ...model.notes.map((n) => n.text),
    ...(model.warnings.length > 0 ? [`${model.warnings.length} damaged or truncated region(s) of the capture were skipped: ${model.warnings[0]?.message ?? ''}`] : []),
    ...[impossibleNote(model)].filter((n) => n !== undefined),
  ];
  const data = b.build({
    // The interpreter by its name only (python3, not /srv/venv/bin/python3): the full line is in Statistics.
    title: h.argv.length > 0 ? [h.argv[0]!.slice(h.argv[0]!.lastIndexOf('/') + 1), ...h.argv.slice(1)].join(' ') : h.script !== '' ? h.script : o.captureFile,
    memlensVersion: o.memlensVersion,
    view: o.view,
    inverted: o.inverted,
    viewDescription: viewDescription(model, o, peakTimeNs),
    captureFile: o.captureFile,
    commandLine: h.argv,
    pythonVersion: h.pythonVersion !== '' ? `${h.pythonVersion} (${h.pythonImplementation || 'cpython'})` : 'unknown',
    pythonAllocator: h.pythonAllocator,
    pid: h.pid,
    hostname: h.hostname,
    startWallMs: h.startWallNs > 0n ? Number(h.startWallNs / 1_000_000n) : null,
    durationNs: model.durationNs,
    peakHeapBytes: model.maxHeap,
    peakTimeNs,
    peakRssBytes: maxRss,
    totalAllocations: model.allocations,
    totalBytesAllocated: model.bytesAllocated,
    cgroupLimitBytes: memoryLimitOf(model) ?? null,
    options: optionsInForce(model),
    captureMode: h.mode === 2 ? 'attach (allocations made before memlens attached are not seen)' : 'run (tracked from the first line)',
    ending: ending(model),
    notes,
    reductions,
    emptyReason: emptyReason(model, o),
    verdict: o.verdict ?? null,
  });
  return { data, reductions };
}

/** Tells `want` the line of every Python frame of the sites' stacks with a line, each frame once. */
function wantSourceLines(model: CaptureModel, order: Int32Array, want: (file: string, line: number) => void): void {
  const frames = model.frames;
  // A bit per Python node (call_sites has millions), a byte per frame.
  const seenNode = new Uint32Array((frames.pyNodeCount >>> 5) + 1);
  const seenFrame = new Uint8Array(frames.frames.length);
  for (const site of order) {
    for (let n = model.sites.pyStack(site as SiteId); n > 0 && (seenNode[n >>> 5]! & (1 << (n & 31))) === 0; n = frames.pyParentOf(n)) {
      seenNode[n >>> 5]! |= 1 << (n & 31);
      const id = frames.pyFrameOf(n);
      if (seenFrame[id] === 1) continue;
      seenFrame[id] = 1;
      const f = frames.frame(id);
      if (!f.native && f.line > 0) want(f.file, f.line);
    }
  }
}

/**
 * One marker per collection, its pause (and the memory it freed, when known) in the label the timeline's
 * hover shows. Past `max`, the collections with the longest pauses are kept.
 */
function addGcMarkers(b: ReportDataBuilder, model: CaptureModel, gc: GcReport | undefined, max: number, reductions: string[]): void {
  const gcs = model.gcs;
  let keep = gcs.map((_, i) => i);
  if (keep.length > max) {
    keep = keep
      .sort((x, y) => gcs[y]!.durationNs - gcs[x]!.durationNs || x - y)
      .slice(0, max)
      .sort((x, y) => gcs[x]!.timeNs - gcs[y]!.timeNs || x - y);
    reductions.push(`garbage collections: ${fmtCount(gcs.length)} on the timeline would hide it; the ${fmtCount(max)} longest pauses are marked`);
  }
  for (const i of keep) {
    const r = gcs[i]!;
    const freed = gc?.perCollectionBytes[i];
    const pause = r.durationNs < 1e9 ? `${(r.durationNs / 1e6).toFixed(2)} ms` : `${(r.durationNs / 1e9).toFixed(2)} s`;
    const label = `generation ${r.generation}: pause ${pause}, ${fmtCount(r.collected)} collected${r.uncollectable > 0 ? `, ${fmtCount(r.uncollectable)} uncollectable` : ''}${freed !== undefined && freed > 0 ? `, ${fmtBytes(freed)} freed` : ''}`;
    b.marker(Math.max(0, Math.round(r.timeNs)), 'GC', label);
  }
}

/** Time of the whole run's peak: the tick with the highest peak (the first of equals). */
function peakTime(t: PeakTimelineResult): number | null {
  let best = -1;
  for (let k = 0; k < t.tickPeakHeap.length; k++) if (best < 0 || t.tickPeakHeap[k]! > t.tickPeakHeap[best]!) best = k;
  return best < 0 ? null : Math.round(t.tickPeakTime[best]!);
}
