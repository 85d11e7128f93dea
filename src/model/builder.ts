// Reads a decoded capture (a CaptureVisitor fed in seq order) into a CaptureModel in one pass.
//
// The replay keeps the allocations live right now (LiveTable, MappedRegions) and, per site, the totals,
// the live bytes, the bytes at the peak and the temporary allocations. Memory is bounded by the number of
// sites and of live allocations, never by the number of events.
//
// The peak is exact and O(1) per event: every time the heap reaches a new maximum, `epoch` goes up. A
// site whose `peakMark` is behind `epoch` has not changed since the latest peak, so its live value *is*
// its value at the peak; just before such a site changes, its live value is saved into the peak columns
// and its mark set to `epoch`. At the end a site's value at the peak is the saved one if its mark equals
// `epoch`, else its live one. No table is copied at a new peak.

import { EMPTY_HEADER as EMPTY_FILE_HEADER } from '../capture/header.js';
import type {
  AgentStatsRecord,
  CaptureHeader,
  CaptureVisitor,
  CheckpointEntry,
  CheckpointRecord,
  CodeRecord,
  DecodeWarning,
  ExitRecord,
  ForkRecord,
  GcRecord,
  GcStateRecord,
  MarkerRecord,
  MetaRecord,
  NoteRecord,
  CensusRecord,
  SnapshotRecord,
  TrailerRecord,
} from '../capture/records.js';
import { Allocator, Deallocator, OPTION_AGGREGATE, OPTION_NATIVE } from '../capture/format.js';
import { FrameTable } from './frames.js';
import { ImageTable, type NativeSymbolizer } from './images.js';
import { LiveTable } from './live-table.js';
import { MappedRegions } from './mapped-regions.js';
import type { CaptureModel, PeakWindow, ReplayAnomalies, SnapshotSeries, ThreadInfo } from './model.js';
import { SiteTable } from './site-table.js';
import { TupleInterner } from './tuple-interner.js';

export interface CodeInfo {
  readonly codeId: number;
  readonly name: string;
  readonly qualname: string;
  readonly filename: string;
  readonly firstLineNo: number;
  readonly linetableKind: number;
  readonly linetable: Uint8Array;
}

/** Line number of the instruction at byte offset `instr` of `code`; 0 if unknown. */
export type LineResolver = (code: CodeInfo, instr: number) => number;

/** Without a line table decoder, the best guess is the code's first line. */
export const firstLineResolver: LineResolver = (code) => code.firstLineNo;

export type WindowOption =
  | { readonly fromNs?: number | undefined; readonly toNs?: number | undefined }
  | { readonly fromSeq: number; readonly toSeq: number };

/** What an observer may read while the replay runs (the tables grow as it goes). */
export interface ReplayContext {
  readonly sites: SiteTable;
  /** The parent of a (global) Python stack node; 0 for a root frame. */
  pyParent(node: number): number;
  /** The code id of a Python stack node's frame (the code object's, as in CODE records). */
  pyCode(node: number): number;
}

/**
 * Follows the replay as it happens, for analyses that need more than the end state (analysis/temporal.ts).
 * Calls come in seq order; the observer must not keep the builder busy (it is on the hot path).
 */
export interface ReplayObserver {
  /** Called once, before any other call: what the observer may read of the replay's tables. */
  begin?(context: ReplayContext): void;
  /**
   * The live amount of `site` changed by `bytes` and `count` (negative for frees) at event `seq`. `thread`
   * is the site's thread index and `index` the allocation's number among that thread's allocations (1, 2,
   * …): the one just made, or the one being freed, so an observer can tell when a freed block was made.
   */
  change(site: number, seq: number, bytes: number, count: number, thread: number, index: number): void;
  /** A memory snapshot: the events with a lower seq were replayed, none with a higher one (yet). */
  snapshot(seq: number, timeNs: number): void;
  /**
   * A GC record, as it arrives: every event with a lower seq was replayed (so the frees of the collection,
   * those with a seq in [startSeq, seq), were just seen), none with a higher one.
   */
  gc?(record: GcRecord): void;
  /** Aggregated captures: a CHECKPOINT as it arrives (in seq order). Its entries name stream-local stacks. */
  checkpoint?(record: CheckpointRecord): void;
  /**
   * Aggregated captures, once at the end of the replay: the site of a checkpoint entry's location. Stacks
   * resolve only then, when every FRAME has arrived (a FRAME may come after the CHECKPOINT that uses it).
   */
  resolveCheckpoints?(siteOf: (entry: CheckpointEntry) => number): void;
}

export interface BuildOptions {
  /** Told of every change of a site's live amount and of every snapshot, in replay order. */
  readonly observer?: ReplayObserver | undefined;
  readonly lineResolver?: LineResolver;
  /** Count allocations freed after at most N other allocations of the same thread. */
  readonly temporaryThreshold?: number | undefined;
  /** Search the peak inside this window only (times are ns since tracking started). */
  readonly window?: WindowOption | undefined;
  /** Names native frames from the image files (an edge function: it reads them). */
  readonly symbolizer?: NativeSymbolizer | undefined;
}

interface StreamState {
  thread: number;
  py: Int32Array;
  native: Int32Array;
  // Cache of the last (stack, native stack, allocator) → site: consecutive allocations share it often.
  lastStack: number;
  lastNative: number;
  lastAllocator: number;
  lastSite: number;
  // A direct-mapped cache of (stack, native stack, allocator) → site behind it (-1: empty slot). Local
  // stack ids are reused after a STACK_RESET, so the reset clears it.
  cacheKey: Float64Array;
  cacheSite: Int32Array;
}

const SITE_CACHE = 1024;

/** Frame resolution kept between current() calls (resolveFrames()). */
interface ResolvedFrames {
  readonly frames: FrameTable;
  /** Global Python and native node ids up to these are mapped. */
  py: number;
  native: number;
  readonly byCodeAndLine: Map<string, number>;
  readonly byIp: Map<number, number>;
  /** Nodes mapped to a placeholder: their CODE record, or the IMAGE holding their address, was missing. */
  unknownPy: number[];
  unknownNative: number[];
  /** Images loaded when the native nodes were last mapped. */
  images: number;
}

// Before the header arrives (a capture cut inside it): version 0 says no header was read.
const EMPTY_HEADER: CaptureHeader = { ...EMPTY_FILE_HEADER, version: 0, minReaderVersion: 0 };

const TWO_32 = 4294967296;
// The allocator and deallocator codes as plain numbers (the visitor passes numbers).
const MMAP: number = Allocator.Mmap;
const MREMAP: number = Allocator.Mremap;
const TRACK: number = Allocator.TracemallocTrack;
const MUNMAP: number = Deallocator.Munmap;
const UNTRACK: number = Deallocator.TracemallocUntrack;

export class ModelBuilder implements CaptureVisitor {
  private hdr: CaptureHeader = EMPTY_HEADER;
  private readonly lineResolver: LineResolver;
  private readonly temporaryThreshold: number | undefined;
  private readonly observer: ReplayObserver | undefined;

  private readonly pyNodes = new TupleInterner(3, 4096); // (parent global, codeId, instr); global = id + 1
  private readonly nativeNodes = new TupleInterner(2, 4096); // (parent global, ip)
  private readonly codes = new Map<number, CodeInfo>();
  private readonly sites = new SiteTable();
  // The per-site columns the hot path touches, cached (refreshColumns() after the table grows).
  private totalCount: Float64Array = new Float64Array(0);
  private totalBytes: Float64Array = new Float64Array(0);
  private liveCounts: Float64Array = new Float64Array(0);
  private liveBytes: Float64Array = new Float64Array(0);
  private peakCounts: Float64Array = new Float64Array(0);
  private peakBytes: Float64Array = new Float64Array(0);
  private peakMark: Float64Array = new Float64Array(0);
  private readonly streams = new Map<number, StreamState>();
  private lastStreamId = -1;
  private lastStream: StreamState | undefined;
  private readonly threads: ThreadInfo[] = [];
  private images = new ImageTable('');
  private readonly symbolizer: NativeSymbolizer | undefined;

  private readonly live = new LiveTable();
  private readonly tracked = new LiveTable(1024); // PyTraceMalloc_Track'ed memory that malloc did not report
  private readonly regions = new MappedRegions();
  private threadAllocs = new Float64Array(64); // allocations made so far, per thread index

  private allocations = 0;
  private frees = 0;
  private bytesAllocated = 0;
  private heap = 0;
  private liveCount = 0;
  private maxHeap = 0;
  private maxHeapSeq = 0;
  private peakHeap = -1;
  private peakSeq = 0;
  private epoch = 0;
  private lastSeq = 0;

  // Peak window, in seq: [fromSeq, toSeq). Time bounds are turned into seqs as snapshots arrive.
  private fromSeq = 0;
  private toSeq = Infinity;
  private readonly fromNs: number | undefined;
  private readonly toNs: number | undefined;
  private windowStarted = false;
  private readonly windowAsked: boolean;

  private readonly sizeHistogram = new Float64Array(66);
  private minSize = Infinity;
  private maxSize = 0;
  private readonly allocatorCounts = new Float64Array(16);
  private readonly allocatorBytes = new Float64Array(16);

  private readonly snap = {
    seq: [] as number[],
    timeNs: [] as number[],
    rss: [] as number[],
    rssAnon: [] as number[],
    rssFile: [] as number[],
    rssShmem: [] as number[],
    swap: [] as number[],
    heap: [] as number[],
    cgroupUsage: [] as number[],
    cgroupLimit: [] as number[],
  };
  /** Snapshots whose heap waits for the replay to reach their seq (indexes into snap, in seq order). */
  private pendingSnapshots: number[] = [];
  private nextSnapshotSeq = Infinity;

  private readonly markers: MarkerRecord[] = [];
  private readonly gcs: GcRecord[] = [];
  private readonly gcStates: GcStateRecord[] = [];
  private readonly forks: ForkRecord[] = [];
  private readonly notes: NoteRecord[] = [];
  private readonly censuses: CensusRecord[] = [];
  private readonly warnings: DecodeWarning[] = [];
  private trailer: TrailerRecord | undefined;
  private exit: ExitRecord | undefined;
  private agentStats: AgentStatsRecord | undefined;
  private lastCheckpoint: CheckpointRecord | undefined;
  private resolved: ResolvedFrames | undefined;
  private readonly checkpointEntries = new Map<string, CheckpointEntry>();
  private sawCheckpoint = false;
  private durationNs = 0;

  private unknownFrees = 0;
  private missedFrees = 0;
  private duplicateTracks = 0;
  private unknownStacks = 0;
  private outOfOrder = 0;
  private lateSnapshots = 0;

  constructor(options: BuildOptions = {}) {
    this.lineResolver = options.lineResolver ?? firstLineResolver;
    this.temporaryThreshold = options.temporaryThreshold;
    this.observer = options.observer;
    this.symbolizer = options.symbolizer;
    this.observer?.begin?.({
      sites: this.sites,
      pyParent: (node) => (node > 0 && node <= this.pyNodes.size ? this.pyNodes.get(node - 1, 0) : 0),
      pyCode: (node) => (node > 0 && node <= this.pyNodes.size ? this.pyNodes.get(node - 1, 1) : 0),
    });
    const w = options.window;
    this.windowAsked = w !== undefined;
    if (w !== undefined && 'fromSeq' in w) {
      this.fromSeq = w.fromSeq;
      this.toSeq = w.toSeq;
    } else if (w !== undefined) {
      this.fromNs = w.fromNs;
      this.toNs = w.toNs;
      // Until a snapshot at or after fromNs arrives, every event is before the window.
      if (w.fromNs !== undefined && w.fromNs > 0) this.fromSeq = Infinity;
    }
  }

  header(h: CaptureHeader): void {
    this.hdr = h;
    this.images = new ImageTable(h.executable, this.symbolizer);
    this.resolved = undefined; // frame kinds and modules depend on the header's paths
  }

  // ── hot path ─────────────────────────────────────────────────────────────────────────────────────

  alloc(stream: number, seq: number, address: number, size: number, allocator: number, stack: number, nativeStack: number): void {
    if (seq >= this.nextSnapshotSeq) this.resolveSnapshots(seq);
    if (seq < this.lastSeq) this.outOfOrder++;
    else this.lastSeq = seq;
    if (!this.windowStarted && seq >= this.fromSeq) this.startWindow();

    const st = this.lastStreamId === stream && this.lastStream !== undefined ? this.lastStream : this.streamState(stream);
    let site: number;
    if (stack === st.lastStack && nativeStack === st.lastNative && allocator === st.lastAllocator) {
      site = st.lastSite;
    } else {
      // One number for the key (exact while both ids are below 2^24; past that, no caching).
      const key = stack < 16777216 && nativeStack < 16777216 ? (stack * 16777216 + nativeStack) * 16 + allocator : -2;
      const slot = (Math.imul(stack, 0x9e3779b1) ^ Math.imul(nativeStack, 0x85ebca6b) ^ allocator) & (SITE_CACHE - 1);
      if (key === -2) {
        site = this.siteOf(st, stack, nativeStack, allocator);
      } else if (st.cacheKey[slot] === key) {
        site = st.cacheSite[slot] as number;
      } else {
        site = this.siteOf(st, stack, nativeStack, allocator);
        st.cacheKey[slot] = key;
        st.cacheSite[slot] = site;
      }
      st.lastStack = stack;
      st.lastNative = nativeStack;
      st.lastAllocator = allocator;
      st.lastSite = site;
    }

    if (allocator === MMAP || allocator === MREMAP) {
      // MAP_FIXED over a live mapping replaces it: the old part is gone without a munmap.
      this.unmapRange(address, size, seq, true);
      this.countAlloc(site, size, allocator);
      const index = this.bumpThreadAllocs(st.thread);
      this.regions.add(address, size, site, index);
    } else if (allocator === TRACK) {
      // numpy reports buffers it got from malloc: when malloc already showed them, do not count twice.
      if (this.live.has(address) || this.regions.contains(address)) {
        this.duplicateTracks++;
        return;
      }
      if (this.tracked.remove(address)) {
        this.missedFrees++;
        this.release(this.tracked.removedSite, this.tracked.removedSize, 1, seq, this.tracked.removedIndex);
      }
      this.countAlloc(site, size, allocator);
      this.tracked.insert(address, size, site, this.bumpThreadAllocs(st.thread));
    } else {
      this.countAlloc(site, size, allocator);
      if (this.live.insertOrReplace(address, size, site, this.bumpThreadAllocs(st.thread))) {
        this.missedFrees++;
        this.release(this.live.removedSite, this.live.removedSize, 1, seq, this.live.removedIndex);
      }
    }
    this.acquire(site, size, seq);
  }

  free(_stream: number, seq: number, address: number, size: number, deallocator: number): void {
    if (seq >= this.nextSnapshotSeq) this.resolveSnapshots(seq);
    if (seq < this.lastSeq) this.outOfOrder++;
    else this.lastSeq = seq;
    if (!this.windowStarted && seq >= this.fromSeq) this.startWindow();

    if (deallocator === MUNMAP) {
      if (!this.unmapRange(address, size, seq, false)) this.unknownFrees++;
      return;
    }
    const table = deallocator === UNTRACK ? this.tracked : this.live;
    if (!table.remove(address)) {
      // An untrack of a buffer whose track was a duplicate of malloc is expected, not an anomaly.
      if (deallocator !== UNTRACK) this.unknownFrees++;
      return;
    }
    this.frees++;
    const site = table.removedSite;
    const bytes = table.removedSize;
    this.release(site, bytes, 1, seq, table.removedIndex);
    if (this.temporaryThreshold !== undefined) this.checkTemporary(site, bytes, table.removedIndex);
  }

  // ── replay helpers ───────────────────────────────────────────────────────────────────────────────

  private countAlloc(site: number, size: number, allocator: number): void {
    this.allocations++;
    this.bytesAllocated += size;
    this.totalCount[site] = (this.totalCount[site] as number) + 1;
    this.totalBytes[site] = (this.totalBytes[site] as number) + size;
    const k = allocator & 15;
    this.allocatorCounts[k] = (this.allocatorCounts[k] as number) + 1;
    this.allocatorBytes[k] = (this.allocatorBytes[k] as number) + size;
    const b = sizeBucket(size);
    this.sizeHistogram[b] = (this.sizeHistogram[b] as number) + 1;
    if (size < this.minSize) this.minSize = size;
    if (size > this.maxSize) this.maxSize = size;
  }

  private bumpThreadAllocs(thread: number): number {
    if (thread >= this.threadAllocs.length) {
      const grown = new Float64Array(Math.max(thread + 1, this.threadAllocs.length * 2));
      grown.set(this.threadAllocs);
      this.threadAllocs = grown;
    }
    const n = (this.threadAllocs[thread] as number) + 1;
    this.threadAllocs[thread] = n;
    return n;
  }

  private checkTemporary(site: number, bytes: number, index: number): void {
    const thread = this.sites.thread(site);
    const others = (this.threadAllocs[thread] as number) - index;
    if (others <= (this.temporaryThreshold as number)) {
      const c = this.sites.columns;
      c.tempCount.array[site] = (c.tempCount.array[site] as number) + 1;
      c.tempBytes.array[site] = (c.tempBytes.array[site] as number) + bytes;
    }
  }

  /** Saves the site's live value as its value at the latest peak, once, before it changes. */
  private touch(site: number): void {
    if (this.peakMark[site] !== this.epoch) {
      this.peakBytes[site] = this.liveBytes[site] as number;
      this.peakCounts[site] = this.liveCounts[site] as number;
      this.peakMark[site] = this.epoch;
    }
  }

  private refreshColumns(): void {
    const c = this.sites.columns;
    this.totalCount = c.totalCount.array;
    this.totalBytes = c.totalBytes.array;
    this.liveCounts = c.liveCount.array;
    this.liveBytes = c.liveBytes.array;
    this.peakCounts = c.peakCount.array;
    this.peakBytes = c.peakBytes.array;
    this.peakMark = c.peakMark.array;
  }

  private acquire(site: number, bytes: number, seq: number): void {
    this.touch(site);
    this.liveBytes[site] = (this.liveBytes[site] as number) + bytes;
    this.liveCounts[site] = (this.liveCounts[site] as number) + 1;
    this.liveCount++;
    this.heap += bytes;
    if (this.observer !== undefined) {
      const thread = this.sites.thread(site);
      this.observer.change(site, seq, bytes, 1, thread, this.threadAllocs[thread] as number);
    }
    if (this.heap > this.maxHeap) {
      this.maxHeap = this.heap;
      this.maxHeapSeq = seq;
    }
    if (this.heap > this.peakHeap && seq >= this.fromSeq && seq < this.toSeq) {
      this.peakHeap = this.heap;
      this.peakSeq = seq;
      this.epoch++;
    }
  }

  /** `index`: the freed allocation's number in its thread (for the observer). */
  private release(site: number, bytes: number, count: number, seq: number, index: number): void {
    this.touch(site);
    this.liveBytes[site] = (this.liveBytes[site] as number) - bytes;
    this.liveCounts[site] = (this.liveCounts[site] as number) - count;
    this.liveCount -= count;
    this.heap -= bytes;
    this.observer?.change(site, seq, -bytes, -count, this.sites.thread(site), index);
  }

  /** munmap (or MAP_FIXED) of [address, address + size): frees the tracked parts. False if none. */
  private unmapRange(address: number, size: number, seq: number, replaced: boolean): boolean {
    const pieces = this.regions.unmap(address, size);
    if (pieces.length === 0) return false;
    if (replaced) this.missedFrees++;
    for (const p of pieces) {
      this.release(p.site, p.bytes, p.lastPiece ? 1 : 0, seq, p.index);
      if (p.lastPiece) this.frees++;
      if (p.whole && !replaced && this.temporaryThreshold !== undefined) this.checkTemporary(p.site, p.bytes, p.index);
    }
    return true;
  }

  /** The site of an event: its stream's stack ids mapped to global stack nodes, then interned. */
  private siteOf(st: StreamState, stack: number, nativeStack: number, allocator: number): number {
    let py = 0;
    if (stack > 0) {
      py = stack < st.py.length ? (st.py[stack] as number) : 0;
      if (py === 0) this.unknownStacks++;
    }
    let nat = 0;
    if (nativeStack > 0) {
      nat = nativeStack < st.native.length ? (st.native[nativeStack] as number) : 0;
      if (nat === 0) this.unknownStacks++;
    }
    const site = this.sites.intern(py, nat, st.thread, allocator);
    if (site >= this.liveBytes.length) this.refreshColumns();
    return site;
  }

  private startWindow(): void {
    this.windowStarted = true;
    // The heap as the window opens is the first candidate peak (a window can open on a falling heap).
    if (this.heap > this.peakHeap) {
      this.peakHeap = this.heap;
      this.peakSeq = this.lastSeq;
      this.epoch++;
    }
  }

  private streamState(stream: number): StreamState {
    let st = this.streams.get(stream);
    if (st === undefined) {
      const index = this.threads.length;
      this.threads.push({ index, stream, osTid: 0, pythonIdent: 0, name: '', startNs: undefined, exitNs: undefined });
      st = {
        thread: index,
        py: new Int32Array(256),
        native: new Int32Array(256),
        lastStack: -1,
        lastNative: -1,
        lastAllocator: -1,
        lastSite: 0,
        cacheKey: new Float64Array(SITE_CACHE).fill(-1),
        cacheSite: new Int32Array(SITE_CACHE),
      };
      this.streams.set(stream, st);
    }
    this.lastStreamId = stream;
    this.lastStream = st;
    return st;
  }

  // ── records off the hot path ─────────────────────────────────────────────────────────────────────

  meta(record: MetaRecord): void {
    switch (record.type) {
      case 'frame': {
        const st = this.streamState(record.stream);
        const parent = record.parent === 0 ? 0 : record.parent < st.py.length ? (st.py[record.parent] as number) : 0;
        if (record.parent !== 0 && parent === 0) this.unknownStacks++;
        const global = this.pyNodes.intern(parent, record.codeId, record.instr) + 1;
        st.py = setGrow(st.py, record.id, global);
        break;
      }
      case 'native-frame': {
        const st = this.streamState(record.stream);
        const parent = record.parent === 0 ? 0 : record.parent < st.native.length ? (st.native[record.parent] as number) : 0;
        if (record.parent !== 0 && parent === 0) this.unknownStacks++;
        const global = this.nativeNodes.intern(parent, record.ip) + 1;
        st.native = setGrow(st.native, record.id, global);
        break;
      }
      case 'stack-reset': {
        const st = this.streamState(record.stream);
        st.py.fill(0);
        st.native.fill(0);
        st.lastStack = -1;
        st.cacheKey.fill(-1);
        break;
      }
      case 'code':
        this.codes.set(record.codeId, codeInfo(record));
        break;
      case 'thread': {
        const t = this.threads[this.streamState(record.stream).thread] as ThreadInfo;
        t.osTid = record.osTid;
        t.pythonIdent = record.pythonIdent;
        if (record.name !== '') t.name = record.name;
        t.startNs = record.timeNs;
        this.seeTime(record.timeNs);
        break;
      }
      case 'thread-name': {
        const t = this.threads[this.streamState(record.thread).thread] as ThreadInfo;
        t.name = record.name;
        break;
      }
      case 'thread-exit': {
        const t = this.threads[this.streamState(record.stream).thread] as ThreadInfo;
        t.exitNs = record.timeNs;
        this.seeTime(record.timeNs);
        break;
      }
      case 'snapshot':
        this.addSnapshot(record);
        break;
      case 'gc':
        this.gcs.push(record);
        this.seeTime(record.timeNs);
        this.observer?.gc?.(record);
        break;
      case 'fork':
        this.forks.push(record);
        this.seeTime(record.timeNs);
        break;
      case 'image':
        this.images.add(record);
        break;
      case 'marker':
        this.markers.push(record);
        this.seeTime(record.timeNs);
        break;
      case 'checkpoint':
        this.addCheckpoint(record);
        break;
      case 'trailer':
        this.trailer = record;
        this.seeTime(record.timeNs);
        break;
      case 'agent-stats':
        this.agentStats = record;
        this.seeTime(record.timeNs);
        break;
      case 'exit':
        this.exit = record;
        break;
      case 'note':
        this.notes.push(record);
        break;
      case 'gc-state':
        this.gcStates.push(record);
        this.seeTime(record.timeNs);
        break;
      case 'census':
        this.censuses.push(record);
        this.seeTime(record.timeNs);
        break;
      case 'image-unload':
      case 'barrier':
      case 'unknown':
        break;
    }
  }

  warning(w: DecodeWarning): void {
    if (this.warnings.length < 1000) this.warnings.push(w);
  }

  private seeTime(ns: number): void {
    if (ns > this.durationNs) this.durationNs = ns;
  }

  private addSnapshot(r: SnapshotRecord): void {
    const s = this.snap;
    const i = s.seq.length;
    s.seq.push(r.seq);
    s.timeNs.push(r.timeNs);
    s.rss.push(r.rss);
    s.rssAnon.push(r.rssAnon);
    s.rssFile.push(r.rssFile);
    s.rssShmem.push(r.rssShmem);
    s.swap.push(r.swap ?? NaN);
    s.cgroupUsage.push(r.cgroupUsage ?? NaN);
    s.cgroupLimit.push(r.cgroupLimit ?? NaN);
    this.seeTime(r.timeNs);
    if (r.heap !== undefined) {
      s.heap.push(r.heap);
    } else if (r.seq <= this.lastSeq && this.lastSeq > 0) {
      // Events after it were replayed already: the heap now is the best we have.
      this.lateSnapshots++;
      s.heap.push(this.heap);
      this.observer?.snapshot(r.seq, r.timeNs);
    } else {
      s.heap.push(NaN);
      this.pendingSnapshots.push(i);
      if (r.seq < this.nextSnapshotSeq) this.nextSnapshotSeq = r.seq;
    }
    // Turn the asked time window into seqs (snapshots arrive before the events they precede).
    if (this.fromNs !== undefined && this.fromSeq === Infinity && r.timeNs >= this.fromNs) this.fromSeq = r.seq;
    if (this.toNs !== undefined && this.toSeq === Infinity && r.timeNs > this.toNs) this.toSeq = r.seq;
  }

  /** The replay reached `seq`: every pending snapshot at or below it gets the heap as it is now. */
  private resolveSnapshots(seq: number): void {
    const rest: number[] = [];
    let next = Infinity;
    const observer = this.observer;
    // The observer hears of snapshots in seq order.
    if (observer !== undefined) this.pendingSnapshots.sort((a, b) => (this.snap.seq[a] as number) - (this.snap.seq[b] as number));
    for (const i of this.pendingSnapshots) {
      const sseq = this.snap.seq[i] as number;
      if (sseq <= seq) {
        this.snap.heap[i] = this.heap;
        observer?.snapshot(sseq, this.snap.timeNs[i] as number);
      } else {
        rest.push(i);
        if (sseq < next) next = sseq;
      }
    }
    this.pendingSnapshots = rest;
    this.nextSnapshotSeq = next;
  }

  private addCheckpoint(r: CheckpointRecord): void {
    this.sawCheckpoint = true;
    this.lastCheckpoint = r;
    this.seeTime(r.timeNs);
    this.observer?.checkpoint?.(r);
    // Entries name per-stream stack ids whose FRAME records may come later in the file (another stream's
    // block): keep the latest entry per location and resolve them all at the end.
    for (const e of r.entries) this.checkpointEntries.set(`${e.stream}:${e.stack}:${e.nativeStack}:${e.allocator}`, e);
  }

  /** The site of a checkpoint entry's location in `sites` (stacks as they are now). */
  private checkpointSite(sites: SiteTable, e: CheckpointEntry): number {
    const st = this.streamState(e.stream);
    const py = e.stack > 0 ? ((st.py[e.stack]) ?? 0) : 0;
    const nat = e.nativeStack > 0 ? ((st.native[e.nativeStack]) ?? 0) : 0;
    return sites.intern(py, nat, st.thread, e.allocator);
  }

  /**
   * Puts the latest checkpoint entries into `sites` (the builder's own table at the end, a copy of it in
   * the middle of a stream) and the allocator columns. Returns the entries whose stack was never defined.
   */
  private applyCheckpointEntries(sites: SiteTable, allocatorCounts: Float64Array, allocatorBytes: Float64Array): number {
    const c = sites.columns;
    let unknown = 0;
    for (const e of this.checkpointEntries.values()) {
      const st = this.streamState(e.stream);
      const py = e.stack > 0 ? ((st.py[e.stack]) ?? 0) : 0;
      const nat = e.nativeStack > 0 ? ((st.native[e.nativeStack]) ?? 0) : 0;
      if ((e.stack > 0 && py === 0) || (e.nativeStack > 0 && nat === 0)) unknown++;
      const site = sites.intern(py, nat, st.thread, e.allocator);
      c.totalCount.array[site] = (c.totalCount.array[site] as number) + e.totalCount;
      c.totalBytes.array[site] = (c.totalBytes.array[site] as number) + e.totalBytes;
      c.liveCount.array[site] = (c.liveCount.array[site] as number) + e.liveCount;
      c.liveBytes.array[site] = (c.liveBytes.array[site] as number) + e.liveBytes;
      // Two entries can land on one site only if damage lost their stacks; take the later update.
      c.peakCount.array[site] = (c.peakCount.array[site] as number) + e.savedPeakCount;
      c.peakBytes.array[site] = (c.peakBytes.array[site] as number) + e.savedPeakBytes;
      c.updatedSeq.array[site] = Math.max(c.updatedSeq.array[site] as number, e.updatedSeq);
    }
    const cp = this.lastCheckpoint;
    for (let s = 0; s < sites.size; s++) {
      const k = sites.allocator(s) & 15;
      allocatorCounts[k] = (allocatorCounts[k] as number) + (c.totalCount.array[s] as number);
      allocatorBytes[k] = (allocatorBytes[k] as number) + (c.totalBytes.array[s] as number);
      if ((c.updatedSeq.array[s] as number) <= (cp?.peakSeq ?? 0)) {
        c.peakBytes.array[s] = c.liveBytes.array[s] as number;
        c.peakCount.array[s] = c.liveCount.array[s] as number;
      }
    }
    return unknown;
  }

  // ── the end, and the middle ──────────────────────────────────────────────────────────────────────

  /** The model of the whole capture. The builder is done: feed it nothing more. */
  finish(): CaptureModel {
    if (this.pendingSnapshots.length > 0) this.resolveSnapshots(Infinity);
    return this.model(true);
  }

  /**
   * The model of what has been replayed so far, as a fresh builder fed the same records and finished here
   * would give it; feeding may go on afterwards. For a live view (src/live/), so it costs O(sites) plus the
   * stack nodes defined since the previous call, not O(events).
   *
   * The model shares the builder's growing tables (sites and their columns, snapshots, threads, frames):
   * read it before feeding more records, and ask again afterwards. Snapshots whose seq the replay has not
   * reached yet get the heap as it is now (as finish() would give them); they stay pending and get their
   * own value when the replay reaches them. The replay observer hears nothing from this call.
   */
  current(): CaptureModel {
    for (const i of this.pendingSnapshots) this.snap.heap[i] = this.heap;
    return this.model(false);
  }

  private model(final: boolean): CaptureModel {
    const aggregated = this.sawCheckpoint || (this.hdr.options & OPTION_AGGREGATE) !== 0;
    let sites = this.sites;
    let allocatorCounts = this.allocatorCounts;
    let allocatorBytes = this.allocatorBytes;
    let unknownStacks = this.unknownStacks;
    let allocations = this.allocations;
    let bytesAllocated = this.bytesAllocated;
    let endHeap = this.heap;
    let endLiveCount = this.liveCount;
    let maxHeap = this.maxHeap;
    let maxHeapSeq = this.maxHeapSeq;
    let peakHeap = this.peakHeap;
    let peakSeq = this.peakSeq;
    let lastSeq = this.lastSeq;
    let peakFound = true;

    if (aggregated) {
      // The agent kept the totals; a location's share of the peak is its live value if it has not
      // changed since the peak, else the value it saved when it first changed after it. Checkpoint entries
      // are cumulative, so in the middle of a stream they go into a copy of the table (aggregated captures
      // have few sites): the builder's own table stays as the next checkpoint expects it.
      if (!final) {
        sites = this.sites.clone();
        allocatorCounts = this.allocatorCounts.slice();
        allocatorBytes = this.allocatorBytes.slice();
      }
      unknownStacks += this.applyCheckpointEntries(sites, allocatorCounts, allocatorBytes);
      if (final) {
        this.unknownStacks = unknownStacks;
        // Observers of checkpoints resolve their entries now that every FRAME has arrived.
        this.observer?.resolveCheckpoints?.((e) => this.checkpointSite(sites, e));
      }
      const c = sites.columns;
      const cp = this.lastCheckpoint;
      allocations = 0;
      bytesAllocated = 0;
      endLiveCount = 0;
      for (let s = 0; s < sites.size; s++) {
        allocations += c.totalCount.array[s] as number;
        bytesAllocated += c.totalBytes.array[s] as number;
        endLiveCount += c.liveCount.array[s] as number;
      }
      endHeap = cp?.heap ?? 0;
      maxHeap = cp?.peakHeap ?? 0;
      maxHeapSeq = cp?.peakSeq ?? 0;
      peakHeap = maxHeap;
      peakSeq = maxHeapSeq;
      lastSeq = Math.max(this.lastSeq, cp?.seq ?? 0);
      if (final) this.lastSeq = lastSeq;
    } else {
      const c = this.sites.columns;
      const n = this.sites.size;
      let epoch = this.epoch;
      if (!this.windowStarted) {
        if (this.fromSeq === Infinity) peakFound = false;
        else if (final) {
          this.startWindow();
          epoch = this.epoch;
          peakHeap = this.peakHeap;
          peakSeq = this.peakSeq;
        } else if (this.heap > this.peakHeap) {
          // What startWindow() would do at the end, without starting the window: the next event may
          // still fall before it.
          peakHeap = this.heap;
          peakSeq = this.lastSeq;
          epoch = this.epoch + 1;
        }
      }
      if (peakHeap < 0) peakFound = false;
      if (peakFound) {
        // A site not changed since the latest peak has its live value as its value at the peak. Writing
        // that into the peak columns is safe in the middle of the stream: the replay reads a site's peak
        // columns only when its mark is the current epoch, and overwrites them otherwise (touch()).
        for (let s = 0; s < n; s++) {
          if (c.peakMark.array[s] !== epoch) {
            c.peakBytes.array[s] = c.liveBytes.array[s] as number;
            c.peakCount.array[s] = c.liveCount.array[s] as number;
          }
        }
      } else {
        // No peak yet means epoch 0: every mark is 0, no site's peak columns were saved.
        c.peakBytes.array.fill(0);
        c.peakCount.array.fill(0);
        peakHeap = 0;
      }
    }

    const frames = this.resolveFrames();
    const window: PeakWindow | undefined = this.windowAsked
      ? { fromSeq: this.fromSeq, toSeq: this.toSeq, fromNs: this.fromNs, toNs: this.toNs }
      : undefined;
    const anomalies: ReplayAnomalies = {
      unknownFrees: this.unknownFrees,
      missedFrees: this.missedFrees,
      duplicateTracks: this.duplicateTracks,
      unknownStacks,
      outOfOrder: this.outOfOrder,
      lateSnapshots: this.lateSnapshots,
    };
    const snapshots: SnapshotSeries = this.snap;
    return {
      header: this.hdr,
      aggregated,
      nativeStacks: (this.hdr.options & OPTION_NATIVE) !== 0 || this.nativeNodes.size > 0,
      sites,
      frames,
      threads: this.threads,
      allocations,
      frees: this.frees,
      bytesAllocated,
      endHeap,
      endLiveCount,
      maxHeap,
      maxHeapSeq,
      peakHeap: Math.max(0, peakHeap),
      peakSeq,
      peakFound,
      window,
      temporaryThreshold: aggregated ? undefined : this.temporaryThreshold,
      lastSeq,
      sizeHistogram: this.sizeHistogram,
      minSize: this.minSize === Infinity ? 0 : this.minSize,
      maxSize: this.maxSize,
      allocatorCounts,
      allocatorBytes,
      snapshots,
      markers: this.markers,
      gcs: this.gcs,
      gcStates: this.gcStates,
      forks: this.forks,
      censuses: this.censuses,
      notes: this.notes,
      trailer: this.trailer,
      exit: this.exit,
      agentStats: this.agentStats,
      warnings: this.warnings,
      anomalies,
      durationNs: this.durationNs,
    };
  }

  /**
   * Maps the Python and native stack nodes to frames. Incremental: nodes mapped by an earlier call keep
   * their frame, except those whose CODE record (or IMAGE, for native nodes) had not arrived then: they
   * are mapped again once it has. A frame left behind that way (`<unknown code N>`) stays in the table,
   * unused. Called once, at the end, it maps every node in id order, as a one-pass reader would.
   */
  private resolveFrames(): FrameTable {
    let r = this.resolved;
    if (r === undefined) {
      const h = this.hdr;
      r = {
        frames: new FrameTable({ stdlibDirs: h.stdlibDirs, sitePackages: h.sitePackages, sysPath: h.sysPath }),
        py: 0,
        native: 0,
        byCodeAndLine: new Map(),
        byIp: new Map(),
        unknownPy: [],
        unknownNative: [],
        images: -1,
      };
      this.resolved = r;
    }
    const frames = r.frames;
    const nPy = this.pyNodes.size;
    frames.pyFrame = growInt32(frames.pyFrame, nPy + 1);
    frames.pyParent = growInt32(frames.pyParent, nPy + 1);
    if (r.unknownPy.length > 0) {
      const still: number[] = [];
      for (const g of r.unknownPy) if (!this.mapPyNode(r, g)) still.push(g);
      r.unknownPy = still;
    }
    for (let g = r.py + 1; g <= nPy; g++) {
      frames.pyParent[g] = this.pyNodes.get(g - 1, 0);
      if (!this.mapPyNode(r, g)) r.unknownPy.push(g);
    }
    r.py = nPy;
    frames.unknownCodes = r.unknownPy.length;

    const nNative = this.nativeNodes.size;
    frames.nativeFrame = growInt32(frames.nativeFrame, nNative + 1);
    frames.nativeParent = growInt32(frames.nativeParent, nNative + 1);
    const images = this.images.list.length;
    if (r.unknownNative.length > 0 && images !== r.images) {
      const still: number[] = [];
      for (const g of r.unknownNative) if (!this.mapNativeNode(r, g)) still.push(g);
      r.unknownNative = still;
    }
    for (let g = r.native + 1; g <= nNative; g++) {
      frames.nativeParent[g] = this.nativeNodes.get(g - 1, 0);
      if (!this.mapNativeNode(r, g)) r.unknownNative.push(g);
    }
    r.native = nNative;
    r.images = images;
    return frames;
  }

  /** Maps Python node `g` (global id) to its frame; false when its code object has not arrived (yet). */
  private mapPyNode(r: ResolvedFrames, g: number): boolean {
    const codeId = this.pyNodes.get(g - 1, 1);
    const instr = this.pyNodes.get(g - 1, 2);
    const code = this.codes.get(codeId);
    let frame: number;
    if (code === undefined) {
      frame = r.frames.intern(`<unknown code ${codeId}>`, '<unknown>', 0, false, 'user');
    } else {
      let line: number;
      try {
        line = this.lineResolver(code, instr);
      } catch {
        line = 0; // a damaged line table costs the line number, not the report
      }
      const key = `${codeId}:${line}`;
      const known = r.byCodeAndLine.get(key);
      if (known !== undefined) frame = known;
      else {
        frame = r.frames.intern(code.qualname !== '' ? code.qualname : code.name, code.filename, line, false);
        r.byCodeAndLine.set(key, frame);
      }
    }
    r.frames.pyFrame[g] = frame;
    return code !== undefined;
  }

  /** Maps native node `g` to its frame; false when no loaded image holds its address (yet). */
  private mapNativeNode(r: ResolvedFrames, g: number): boolean {
    const ip = this.nativeNodes.get(g - 1, 1);
    let frame = r.byIp.get(ip);
    let found = true;
    if (frame === undefined) {
      const named = this.images.name(ip);
      found = named.known;
      frame = r.frames.intern(named.name, named.file, 0, true, named.interpreter ? 'internal' : 'user');
      // An address no image holds yet may be named later: do not remember its placeholder name.
      if (found) r.byIp.set(ip, frame);
    }
    r.frames.nativeFrame[g] = frame;
    return found;
  }
}

/** Bucket of the size histogram: 0 for 0 bytes, k for [2^(k-1), 2^k). */
export function sizeBucket(size: number): number {
  if (size < 1) return 0;
  if (size < TWO_32) return 32 - Math.clz32(size);
  return 64 - Math.clz32(Math.floor(size / TWO_32));
}

/** `arr` with room for `n` entries (doubling, contents kept). */
function growInt32(arr: Int32Array, n: number): Int32Array {
  if (n <= arr.length) return arr;
  let cap = Math.max(16, arr.length * 2);
  while (cap < n) cap *= 2;
  const grown = new Int32Array(cap);
  grown.set(arr);
  return grown;
}

function setGrow(arr: Int32Array, index: number, value: number): Int32Array {
  let a = arr;
  if (index >= a.length) {
    let cap = a.length * 2;
    while (cap <= index) cap *= 2;
    const grown = new Int32Array(cap);
    grown.set(a);
    a = grown;
  }
  a[index] = value;
  return a;
}

function codeInfo(r: CodeRecord): CodeInfo {
  return {
    codeId: r.codeId,
    name: r.name,
    qualname: r.qualname,
    filename: r.filename,
    firstLineNo: r.firstLineNo,
    linetableKind: r.linetableKind,
    linetable: r.linetable,
  };
}
