// Reads a decoded capture (a CaptureVisitor fed in seq order) into a CaptureModel in one pass.
//
// The builder hands each record to the part that owns it and assembles the model at the end:
//   - stack-resolver.ts: per-stream stack ids → sites; stack nodes → frames (CODE, IMAGE records)
//   - heap-replay.ts: allocations and frees → live allocations, per-site columns, the exact peak (the hot path)
//   - snapshots.ts: the SNAPSHOT series, with the heap the replay had at each
//   - aggregated.ts: CHECKPOINT records → the same figures, for aggregated captures
// and keeps the rest (markers, GC records, threads' lifetimes, …) as they come. Analyses that follow the
// replay as it happens are told through a ReplayObserver (replay-observer.ts).

import { EMPTY_HEADER as EMPTY_FILE_HEADER } from '../capture/header.js';
import type {
  AgentStatsRecord,
  CaptureHeader,
  CaptureVisitor,
  CensusRecord,
  DecodeWarning,
  ExitRecord,
  ForkRecord,
  GcRecord,
  GcStateRecord,
  MarkerRecord,
  MetaRecord,
  NoteRecord,
  PressureRecord,
  TrailerRecord,
} from '../capture/records.js';
import { DOUBLE_FIELD, eventAddress } from '../capture/records.js';
import { MARKER_KINDS, OPTION_AGGREGATE, OPTION_NATIVE } from '../capture/format.js';
import { CheckpointLog } from './aggregated.js';
import { samplingOf } from './sampling.js';
import { HeapReplay, type HeapTotals, type WindowOption } from './heap-replay.js';
import type { StreamId } from './ids.js';
import { type LateImage, lateImage, type NativeSymbolizer } from './images.js';
import type { CaptureModel, ReplayAnomalies } from './model.js';
import type { ReplayObserver } from './replay-observer.js';
import { SiteTable } from './site-table.js';
import { SnapshotLog } from './snapshots.js';
import { firstLineResolver, type LineResolver, StackResolver } from './stack-resolver.js';
import { collectNow } from '../util/outgrown.js';
import { ImpossibleValues, impossibleAlloc, impossibleFree, impossibleMeta, MAX_PID, MAX_PROCESS_BYTES, reachableLimit } from './value-bounds.js';

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
  /** Sites to make room for (SiteTable's `capacity`, siteCapacityFor()): made at once when the table passes ROOM_FROM_SITES; it grows past it. */
  readonly siteCapacity?: number | undefined;
}

const MARKER_TRACKING_STARTED = MARKER_KINDS.indexOf('tracking-started');
const MARKER_ATTACHED = MARKER_KINDS.indexOf('attached');

/**
 * endOfRead() collects at once when it gave up this much (a capture of few sites and few live allocations gives up
 * less: no collection). 2 MiB, not 16 (round twenty-six): numpy_mix gives up ~5 MiB (its live table 3 MiB of it),
 * which otherwise stayed beneath the frames being made, `stats`' peak then.
 */
const END_COLLECT_FROM_BYTES = 2 << 20;

// Before the header arrives (a capture cut inside it): version 0 says no header was read.
const EMPTY_HEADER: CaptureHeader = { ...EMPTY_FILE_HEADER, version: 0, minReaderVersion: 0 };

export class ModelBuilder implements CaptureVisitor {
  private hdr: CaptureHeader = EMPTY_HEADER;
  private readonly observer: ReplayObserver | undefined;
  private readonly sites: SiteTable;
  private readonly stacks: StackResolver;
  private readonly replay: HeapReplay;
  private readonly snapshots: SnapshotLog;
  private readonly checkpoints: CheckpointLog;

  private readonly markers: MarkerRecord[] = [];
  private readonly gcs: GcRecord[] = [];
  private readonly gcStates: GcStateRecord[] = [];
  private readonly forks: ForkRecord[] = [];
  private readonly notes: NoteRecord[] = [];
  private readonly censuses: CensusRecord[] = [];
  private readonly pressure: PressureRecord[] = [];
  /** A marker of tracking started or attached has been read: IMAGE records from now on are late loads. */
  private started = false;
  private readonly lateImages: LateImage[] = [];
  private readonly warnings: DecodeWarning[] = [];
  private trailer: TrailerRecord | undefined;
  private exit: ExitRecord | undefined;
  private agentStats: AgentStatsRecord | undefined;
  /** Starts as a double (DOUBLE_FIELD, records.ts; set to 0 in the constructor): a time in ns passes 2^30 a second in. */
  private durationNs = DOUBLE_FIELD;
  /** Records left out for a value no process can have (value-bounds.ts). */
  private readonly impossible = new ImpossibleValues();

  constructor(options: BuildOptions = {}) {
    this.durationNs = 0;
    this.observer = options.observer;
    this.sites = new SiteTable(undefined, options.siteCapacity);
    this.stacks = new StackResolver(this.sites, options.lineResolver ?? firstLineResolver, options.symbolizer);
    this.replay = new HeapReplay(this.sites, { observer: options.observer, temporaryThreshold: options.temporaryThreshold, window: options.window });
    this.snapshots = new SnapshotLog(options.observer);
    this.checkpoints = new CheckpointLog(this.stacks, this.impossible);
    // The functions close over the stack resolver, not the builder: an observer lives on after the
    // replay (the forensic facts are read at the end), and through `this` it kept the replay's tables
    // (the live allocations: 6 MiB on a 50 M-event capture) alive while the report was written.
    const stacks = this.stacks;
    this.observer?.begin?.({
      sites: this.sites,
      pyParent: (node) => stacks.pyParent(node),
      pyCode: (node) => stacks.pyCode(node),
    });
  }

  header(h: CaptureHeader): void {
    // Ids no process can have read as unknown (0); a limit no process can reach reads as none.
    const pid = this.idOf('pid', h.pid);
    const ppid = this.idOf('ppid', h.ppid);
    const mainTid = this.idOf('main_tid', h.mainTid);
    this.hdr = { ...h, pid, ppid, mainTid, cgroupLimitBytes: reachableLimit(h.cgroupLimitBytes) ?? 0 };
    this.replay.sampling = samplingOf(h);
    this.stacks.header(this.hdr);
    this.observer?.header?.(this.hdr);
  }

  private idOf(field: string, id: number): number {
    return this.impossible.add(id > MAX_PID ? { record: 'header', field, value: id, bytes: false } : undefined) ? 0 : id;
  }

  // ── hot path ─────────────────────────────────────────────────────────────────────────────────────

  alloc(stream: number, seq: number, address: number, size: number, allocator: number, stack: number, nativeStack: number): void {
    if (seq >= this.snapshots.nextSeq) this.snapshots.reach(seq, this.replay.heap);
    // Two compares on the hot path: an allocation no process could hold (value-bounds.ts) is left out.
    if ((size > MAX_PROCESS_BYTES - this.replay.heap || address === 0) && this.impossible.add(impossibleAlloc(address, size, this.replay.heap))) return;
    const site = this.stacks.site(stream as StreamId, stack, nativeStack, allocator);
    const replay = this.replay;
    replay.eventAddress[0] = address;
    replay.allocAt(site, this.stacks.lastThread, seq, size, allocator);
  }

  free(stream: number, seq: number, address: number, size: number, deallocator: number): void {
    eventAddress[0] = address;
    this.freeAt(stream, seq, size, deallocator);
  }

  /**
   * free() with the address in eventAddress[0] (records.ts): the orderer's call, not boxing it. The body is
   * here, not in free(): V8 left that call from here a call (summary), boxing the address again.
   */
  freeAt(_stream: number, seq: number, size: number, deallocator: number): void {
    const address = eventAddress[0]!;
    if (seq >= this.snapshots.nextSeq) this.snapshots.reach(seq, this.replay.heap);
    if (size !== 0 && this.impossible.add(impossibleFree(size))) return;
    const replay = this.replay;
    replay.eventAddress[0] = address;
    replay.freeAt(seq, size, deallocator);
  }

  // ── records off the hot path ─────────────────────────────────────────────────────────────────────

  /** A FRAME as numbers (CaptureVisitor.frame: no record object); impossibleMeta() has nothing to check in one. */
  frame(stream: number, id: number, parent: number, codeId: number, instr: number): void {
    this.stacks.defineFrame(stream as StreamId, id, parent, codeId, instr);
  }

  meta(record: MetaRecord): void {
    this.replay.settle(); // the frees the replay held back, before anything it or an observer is told or asked
    if (this.impossible.add(impossibleMeta(record))) return;
    switch (record.type) {
      case 'frame':
        this.stacks.frame(record);
        break;
      case 'native-frame':
        this.stacks.nativeFrame(record);
        break;
      case 'stack-reset':
        this.stacks.stackReset(record.stream as StreamId);
        break;
      case 'code':
        this.stacks.code(record);
        break;
      case 'image':
        this.stacks.image(record);
        if (this.started) this.lateImages.push(lateImage(record, this.snapshots.series.seq.length));
        break;
      case 'thread': {
        const t = this.stacks.threadOf(record.stream as StreamId);
        t.osTid = record.osTid;
        t.pythonIdent = record.pythonIdent;
        if (record.name !== '') t.name = record.name;
        t.startNs = record.timeNs;
        this.seeTime(record.timeNs);
        break;
      }
      case 'thread-name':
        // `thread` is the stream of the thread being named; a rename (with a seq) holds from then on.
        if (record.seq !== undefined) this.stacks.rename(record.thread as StreamId, record.name, record.timeNs ?? 0, record.osName === true);
        else this.stacks.threadOf(record.thread as StreamId).name = record.name;
        break;
      case 'thread-exit':
        this.stacks.threadOf(record.stream as StreamId).exitNs = record.timeNs;
        this.seeTime(record.timeNs);
        break;
      case 'snapshot':
        this.snapshots.add(record, this.replay.lastSeq, this.replay.heap);
        this.replay.seeSnapshot(record.seq, record.timeNs);
        this.seeTime(record.timeNs);
        break;
      case 'gc':
        this.gcs.push(record);
        this.seeTime(record.timeNs);
        this.observer?.gc?.(record);
        break;
      case 'gc-start':
        this.observer?.gcStart?.(record.seq);
        break;
      case 'fork':
        this.forks.push(record);
        this.seeTime(record.timeNs);
        break;
      case 'marker':
        // The agent writes this marker after its first scan's IMAGE records (lifecycle.c): what follows was loaded later.
        if (record.kind === MARKER_TRACKING_STARTED || record.kind === MARKER_ATTACHED) this.started = true;
        this.markers.push(record);
        this.seeTime(record.timeNs);
        this.observer?.marker?.(record);
        break;
      case 'pressure':
        this.pressure.push(record);
        this.seeTime(record.timeNs);
        break;
      case 'checkpoint': {
        const kept = this.checkpoints.add(record);
        this.seeTime(record.timeNs);
        this.observer?.checkpoint?.(kept);
        break;
      }
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

  // ── the end, and the middle ──────────────────────────────────────────────────────────────────────

  /** The model of the whole capture. The builder is done: feed it nothing more. */
  finish(): CaptureModel {
    if (this.snapshots.hasPending) this.snapshots.reach(Infinity, this.replay.heap);
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
    this.snapshots.fillPending(this.replay.heap);
    return this.model(false);
  }

  /**
   * What only the read needs is given up before the model's frames are made: the site table's index and peak
   * marks (SiteTable.seal()), the resolver's node index and `nodeSite` (StackResolver.endOfRead()), the replay's
   * live tables (HeapReplay.endOfRead(): what is live at the end is in the site columns by now). call_sites
   * (~2.6 M sites, 3.26 M nodes): ~100 MiB, collected at once when that many, so that the frames (26 MiB) and a
   * report's work after the read take their place rather than adding to them (docs/benchmarks.md, round
   * twenty-three).
   */
  private endOfRead(): void {
    const bytes = this.sites.seal() + this.stacks.endOfRead() + this.replay.endOfRead();
    if (bytes >= END_COLLECT_FROM_BYTES) collectNow();
  }

  private model(final: boolean): CaptureModel {
    const aggregated = this.checkpoints.seen || (this.hdr.options & OPTION_AGGREGATE) !== 0;
    const replay = this.replay;
    replay.settle();
    let totals: HeapTotals;
    if (aggregated) {
      // Checkpoint entries are cumulative, so in the middle of a stream they go into a copy of the table
      // (aggregated captures have few sites): the builder's own table stays as the next checkpoint expects it.
      totals = final
        ? this.checkpoints.totals(this.sites, replay.allocatorCounts, replay.allocatorBytes, replay.lastSeq)
        : this.checkpoints.totals(this.sites.clone(), replay.allocatorCounts.slice(), replay.allocatorBytes.slice(), replay.lastSeq);
      // Observers of checkpoints resolve their entries now that every FRAME has arrived.
      if (final) this.observer?.resolveCheckpoints?.((e) => this.checkpoints.siteOf(totals.sites, e));
    } else {
      totals = replay.totals(final, this.stacks.unknownStacks);
    }

    if (final) this.endOfRead();
    const frames = this.stacks.resolveFrames();
    const anomalies: ReplayAnomalies = {
      unknownFrees: replay.unknownFrees,
      missedFrees: replay.missedFrees,
      duplicateTracks: replay.duplicateTracks,
      unknownStacks: totals.unknownStacks,
      outOfOrder: replay.outOfOrder,
      lateSnapshots: this.snapshots.lateSnapshots,
      unreadableLineTables: this.stacks.unreadableLineTables.size,
      impossibleValues: this.impossible.count + totals.impossibleEntries.count,
      firstImpossible: this.impossible.first ?? totals.impossibleEntries.first,
    };
    return {
      header: this.hdr,
      aggregated,
      nativeStacks: (this.hdr.options & OPTION_NATIVE) !== 0 || this.stacks.hasNativeNodes,
      sites: totals.sites,
      frames,
      threads: this.stacks.threads,
      allocations: totals.allocations,
      frees: replay.frees,
      bytesAllocated: totals.bytesAllocated,
      endHeap: totals.endHeap,
      endLiveCount: totals.endLiveCount,
      maxHeap: totals.maxHeap,
      maxHeapSeq: totals.maxHeapSeq,
      peakHeap: Math.max(0, totals.peakHeap),
      peakSeq: totals.peakSeq,
      peakFound: totals.peakFound,
      window: replay.window(),
      temporaryThreshold: aggregated || this.replay.sampling !== undefined ? undefined : replay.temporaryThreshold,
      sampling: this.replay.sampling,
      lastSeq: totals.lastSeq,
      sizeHistogram: replay.sizeHistogram,
      minSize: replay.smallestSize,
      maxSize: replay.maxSize,
      allocatorCounts: totals.allocatorCounts,
      allocatorBytes: totals.allocatorBytes,
      snapshots: this.snapshots.series,
      markers: this.markers,
      gcs: this.gcs,
      gcStates: this.gcStates,
      forks: this.forks,
      censuses: this.censuses,
      pressure: this.pressure,
      lateImages: this.lateImages,
      notes: this.notes,
      trailer: this.trailer,
      exit: this.exit,
      agentStats: this.agentStats,
      warnings: this.warnings,
      anomalies,
      durationNs: this.durationNs,
    };
  }
}
