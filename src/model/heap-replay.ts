// The heap replay: allocations and frees, in seq order, applied to what is live and to per-site totals.
// This is the hot path of reading a capture (one call per event, hundreds of millions in a big one).
//
// The replay keeps the allocations live right now (LiveTable, MappedRegions) and, per site, the totals,
// the live bytes, the bytes at the peak and the temporary allocations. Memory is bounded by the number of
// sites and of live allocations, never by the number of events.
//
// The peak is exact and O(1) per event: a site whose bit in `peakBits` is clear has not changed since the
// latest peak, so its live value *is* its value at the peak; just before such a site changes, its bit is set
// and its live value saved (PeakSaves, site-peaks.ts: only for the sites changed since the peak). A new peak
// clears the bits of the sites saved since the one before. At the end a site's value at the peak is the saved
// one if its bit is set, else its live one. No table is copied at a new peak.

import { Allocator, Deallocator } from '../capture/format.js';
import type { SiteId, ThreadIndex } from './ids.js';
import { LiveTable } from './live-table.js';
import { MappedRegions } from './mapped-regions.js';
import type { PeakWindow } from './model.js';
import { NO_ALLOCATOR, type ReplayObserver } from './replay-observer.js';
import { type Sampling, sampleWeight } from './sampling.js';
import { PeakSaves, SitePeaks } from './site-peaks.js';
import type { SiteTable } from './site-table.js';
import { ImpossibleValues } from './value-bounds.js';
import { DOUBLE_FIELD } from '../capture/records.js';

export type WindowOption = { readonly fromNs?: number | undefined; readonly toNs?: number | undefined } | { readonly fromSeq: number; readonly toSeq: number };

export interface HeapReplayOptions {
  readonly observer: ReplayObserver | undefined;
  /** Count allocations freed after at most N other allocations of the same thread. */
  readonly temporaryThreshold: number | undefined;
  /** Search the peak inside this window only (times are ns since tracking started). */
  readonly window: WindowOption | undefined;
  /**
   * Tests only: the allocations past which Int32 count columns are widened to Float64 (default INT32_COUNT_LIMIT,
   * 2^31 - 1), so that a test reaches the widening with a few events.
   */
  readonly int32CountLimit?: number | undefined;
}

// A sampled capture (sampling.ts): each recorded allocation counts as `w` allocations of its size, when it
// is made and when it is freed. The live and tracked tables keep the recorded size, from which the free
// recomputes the same weight; mappings are recorded exactly even when sampling (weight 1).

/** The heap figures of a model: from the replay of events, or from checkpoints (aggregated.ts). */
export interface HeapTotals {
  /** The site table the per-site columns are read from. */
  readonly sites: SiteTable;
  readonly allocatorCounts: Float64Array;
  readonly allocatorBytes: Float64Array;
  readonly unknownStacks: number;
  /** Checkpoint entries left out at the end for impossible sums (aggregated captures; value-bounds.ts). */
  readonly impossibleEntries: ImpossibleValues;
  readonly allocations: number;
  readonly bytesAllocated: number;
  readonly endHeap: number;
  readonly endLiveCount: number;
  readonly maxHeap: number;
  readonly maxHeapSeq: number;
  /** Negative when no peak was searched yet. */
  readonly peakHeap: number;
  readonly peakSeq: number;
  readonly peakFound: boolean;
  readonly lastSeq: number;
}

const TWO_32 = 4294967296;
/** HeapReplay's `soleThread` before any allocation, and once two threads allocated. */
const SOLE_NONE = -1;
const SOLE_MANY = -2;
// The allocator and deallocator codes as plain numbers (the visitor passes numbers).
const MMAP: number = Allocator.Mmap;
const MREMAP: number = Allocator.Mremap;
const TRACK: number = Allocator.TracemallocTrack;
const MUNMAP: number = Deallocator.Munmap;
const UNTRACK: number = Deallocator.TracemallocUntrack;

export class HeapReplay {
  private readonly observer: ReplayObserver | undefined;
  readonly temporaryThreshold: number | undefined;
  /** The header's sampling (the `sampling` accessor; HeapReplay is made before the header arrives). */
  private rate: Sampling | undefined = undefined;

  // The per-site columns the hot path touches, cached (refreshColumns() after the table grows). The three counts
  // are Int32Array for an unsampled event capture (CountColumn, site-table.ts; see chooseCounts()), and start as
  // such, so that the hot path's element accesses on them see one array type in the common case.
  private totalCount: Float64Array | Int32Array = new Int32Array(0);
  private totalBytes: Float64Array = new Float64Array(0);
  private liveCounts: Float64Array | Int32Array = new Int32Array(0);
  private liveBytes: Float64Array = new Float64Array(0);
  /** The sites changed since the latest peak and their saved values (site-peaks.ts); its bits cached in `peakBits`. */
  private readonly saves = new PeakSaves();
  private peakBits: Int32Array = new Int32Array(0);
  /** chooseCounts() ran (at the first refreshColumns(), before the first site is counted). */
  private countsChosen = false;
  /**
   * The allocations past which the count columns, when Int32, are widened to Float64 (widenCounts()): every
   * per-site count is at most `allocations`, so they are exact up to it. Infinity when the columns are Float64.
   */
  private countLimit = DOUBLE_FIELD;
  private readonly int32CountLimit: number;

  private readonly live: LiveTable;
  private readonly tracked: LiveTable; // PyTraceMalloc_Track'ed memory that malloc did not report
  private readonly regions = new MappedRegions();
  private threadAllocs = new Float64Array(64); // allocations made so far, per thread index
  /**
   * The thread index of every allocation so far while they all came from one thread (SOLE_NONE before the
   * first, SOLE_MANY once a second thread allocated). A site's thread is that of its allocations (the builder
   * interns sites with it: `thread` in allocAt() is `sites.thread(site)`), so while this is a thread, every
   * block freed is of it: the observer's thread argument at a free without reading the site's keys (a cache
   * miss a free on call_sites, ~10 % of freeAt's samples: docs/benchmarks.md, round twenty-nine).
   */
  private soleThread: number = SOLE_NONE;
  /** The address of the allocation or free allocAt() or freeAt() is called for (written by its caller just before). */
  readonly eventAddress = new Float64Array(1);

  // Counts, byte sums and seqs pass 2^30 in a big capture (bytesAllocated at 85 % of a 50 M-event read):
  // each starts as a double (DOUBLE_FIELD, records.ts) and is set to its start value in the constructor, so
  // that V8 never changes this object's shape in the middle of a read (which deopted every function that
  // checks it). Do not "simplify" them to `= 0`.
  allocations = DOUBLE_FIELD;
  frees = DOUBLE_FIELD;
  bytesAllocated = DOUBLE_FIELD;
  /** The live bytes (read as `heap`: frees held back in a run are applied first). */
  private heapBytes = DOUBLE_FIELD;
  private liveCount = DOUBLE_FIELD;
  private maxHeap = DOUBLE_FIELD;
  private maxHeapSeq = DOUBLE_FIELD;
  private peakHeap = DOUBLE_FIELD;
  private peakSeq = DOUBLE_FIELD;
  lastSeq = DOUBLE_FIELD;

  // Peak window, in seq: [fromSeq, toSeq). Time bounds are turned into seqs as snapshots arrive.
  private fromSeq = DOUBLE_FIELD;
  private toSeq = Infinity;
  private readonly fromNs: number | undefined;
  private readonly toNs: number | undefined;
  private windowStarted = false;
  private readonly windowAsked: boolean;

  readonly sizeHistogram = new Float64Array(66);
  private minSize = Infinity;
  maxSize = DOUBLE_FIELD;
  readonly allocatorCounts = new Float64Array(16);
  readonly allocatorBytes = new Float64Array(16);

  // A long run of FREEs (a program's end freeing its live set): past FREE_RUN in a row, the frees are held back,
  // up to RUN_BATCH, and the live table looks them up in bulk by slot (LiveTable.removeMany); each is then
  // applied as freeAt() would have, in order (flushFrees()). Anything else the replay is told, or asked (`heap`,
  // settle(), totals()), applies them first: no one sees the replay between a held-back free and the next event.
  /** FREEs of the live table's kind since the last other event (no more than FREE_RUN + RUN_BATCH). */
  private freeRun = 0;
  /** The frees held back: their number, then their addresses and seqs, and what removeMany() found of them. */
  private pending = 0;
  private pendingAddresses = new Float64Array(0);
  private pendingSeqs = new Float64Array(0);
  private pendingSizes = new Float64Array(0);
  private pendingSites = new Uint32Array(0);
  private pendingIndexes = new Float64Array(0);

  /** FREE of an address that was not live. */
  unknownFrees = DOUBLE_FIELD;
  /** ALLOC at an address already live (the free was missed). */
  missedFrees = DOUBLE_FIELD;
  /** PyTraceMalloc_Track of memory already live as a native allocation. */
  duplicateTracks = DOUBLE_FIELD;
  /** Events delivered out of seq order. */
  outOfOrder = DOUBLE_FIELD;

  constructor(
    private readonly sites: SiteTable,
    options: HeapReplayOptions,
  ) {
    // The start values of the fields made doubles above.
    this.allocations = this.frees = this.bytesAllocated = this.heapBytes = this.liveCount = 0;
    this.maxHeap = this.maxHeapSeq = this.peakSeq = this.lastSeq = this.fromSeq = this.maxSize = 0;
    this.unknownFrees = this.missedFrees = this.duplicateTracks = this.outOfOrder = 0;
    this.peakHeap = -1;
    this.countLimit = Infinity;
    this.int32CountLimit = options.int32CountLimit ?? INT32_COUNT_LIMIT;
    this.observer = options.observer;
    this.temporaryThreshold = options.temporaryThreshold;
    // The temporary-allocation test needs every freed allocation's index; an observer says which it needs.
    const indexesFrom = options.temporaryThreshold !== undefined ? 0 : options.observer === undefined ? Infinity : (options.observer.indexesFrom ?? 0);
    this.live = new LiveTable(1 << 16, { indexesFrom });
    this.tracked = new LiveTable(1024, { indexesFrom });
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
    this.warmFlush();
  }

  /** Set from the header: a sampled capture's counts are sums of weights, not integers (Float64 count columns). */
  get sampling(): Sampling | undefined {
    return this.rate;
  }
  set sampling(s: Sampling | undefined) {
    this.rate = s;
    if (s !== undefined && this.countLimit !== Infinity) this.widenCounts();
  }

  /** The live bytes after every event the replay was given. */
  get heap(): number {
    if (this.pending !== 0) this.flushFrees();
    return this.heapBytes;
  }

  /**
   * The read is over (ModelBuilder.finish(), after totals()): the live and tracked tables are given up. What is
   * live at the end is in the site columns; the tables (numpy_mix: 2^18 slots, 3 MiB resident of a reserved
   * mapping) would otherwise stay until the report's first collection, beneath the frames being made
   * (docs/benchmarks.md, round twenty-six). Returns their bytes.
   */
  endOfRead(): number {
    if (this.pending !== 0) this.flushFrees();
    return this.live.giveUp() + this.tracked.giveUp() + this.saves.giveUp();
  }

  /** Applies the frees held back (see `freeRun`): the builder calls this before any record but an event. */
  settle(): void {
    if (this.pending !== 0) this.flushFrees();
  }

  /**
   * The held-back frees' fields stored again, and the flushes of `get heap` and settle() run, each WARM_FLUSHES
   * times, with a free held back by hand of an address never allocated (the table is empty at this point): what
   * that changes (an unknown free, the saves' first room) is put back or is what the first event makes anyway.
   * (1) V8 takes a field stored only once as a constant: the first run held back (holdFree()) made `pending` and
   * the run's arrays mutable, which deoptimized every function that had inlined `get heap` ("code dependencies":
   * recordsAt on call_sites, through the builder's alloc()). (2) The flushFrees() call in `get heap` then had no
   * type feedback when the loop was compiled, and the first alloc() after a run deoptimized it again. Enough
   * rounds that V8 gives the two their feedback vectors (after ~8 × their bytecode run) and then fills them.
   * Either way one more compile of recordsAt (docs/benchmarks.md, round thirty-one). Do not "simplify" it away.
   */
  private warmFlush(): void {
    this.pendingAddresses = new Float64Array(1);
    this.pendingSeqs = new Float64Array(1);
    this.pendingSizes = new Float64Array(1);
    this.pendingSites = new Uint32Array(1);
    this.pendingIndexes = new Float64Array(1);
    for (let round = 0; round < WARM_FLUSHES; round++) {
      this.pending = 1;
      void this.heap;
      this.pending = 1;
      this.settle();
    }
    this.unknownFrees = 0;
    // Empty again: holdFree() makes the run's arrays (RUN_BATCH) at the first run, when their length is 0.
    this.pendingAddresses = new Float64Array(0);
    this.pendingSeqs = new Float64Array(0);
    this.pendingSizes = new Float64Array(0);
    this.pendingSites = new Uint32Array(0);
    this.pendingIndexes = new Float64Array(0);
  }

  // ── hot path ─────────────────────────────────────────────────────────────────────────────────────

  /**
   * An allocation at `site` (of thread index `thread`), at the address in `eventAddress[0]`: an address is a
   * double (above 2^31), which as the argument of a call V8 did not inline (this one, from the builder's
   * alloc inlined into the decoder's loop) is boxed, a heap object per ALLOC, half of a report's young
   * garbage (docs/benchmarks.md, "The read's garbage, round eleven"); in a Float64Array it is not.
   */
  allocAt(site: SiteId, thread: ThreadIndex, seq: number, size: number, allocator: number): void {
    const address = this.eventAddress[0]!;
    if (seq < this.lastSeq) this.outOfOrder++;
    else this.lastSeq = seq;
    if (!this.windowStarted && seq >= this.fromSeq) this.startWindow();
    if (site >= this.liveBytes.length) this.refreshColumns();
    if (this.pending !== 0) this.flushFrees();
    this.freeRun = 0;

    if (this.rate !== undefined || allocator === MMAP || allocator === MREMAP || allocator === TRACK) {
      this.allocOther(site, thread, seq, size, allocator);
      return;
    }
    // An unsampled capture's allocation by malloc or Python's allocators (nearly every event):
    // countAlloc(), bumpThreadAllocs() and acquire() written out, as they were not inlined, and here rather
    // than in a function of their own, which V8 left a call (one more per event).
    this.allocations += 1;
    // Int32 count columns are exact up to countLimit allocations: widened past it (once, if ever).
    if (this.allocations > this.countLimit) this.widenCounts();
    this.bytesAllocated += size;
    this.totalCount[site] = this.totalCount[site]! + 1;
    this.totalBytes[site] = this.totalBytes[site]! + size;
    const k = allocator & 15;
    this.allocatorCounts[k] = this.allocatorCounts[k]! + 1;
    this.allocatorBytes[k] = this.allocatorBytes[k]! + size;
    const b = sizeBucket(size);
    this.sizeHistogram[b] = this.sizeHistogram[b]! + 1;
    if (size < this.minSize) this.minSize = size;
    if (size > this.maxSize) this.maxSize = size;
    let threads = this.threadAllocs;
    if (thread >= threads.length) {
      this.bumpThreadAllocs(thread);
      threads = this.threadAllocs;
    } else {
      threads[thread] = threads[thread]! + 1;
    }
    const index = threads[thread]!;
    if (index === 1) this.firstOfThread(thread);
    if (this.live.insertOrReplace(address, size, site, index)) {
      this.missedFrees++;
      this.releaseRecorded(this.live, seq);
    }
    const heap = this.heapBytes + size;
    // An allocation that makes a new peak saves nothing: what it would save is stale at once (a growing heap,
    // accumulate's, makes a new peak at nearly every allocation: a save and its clearing each).
    const peaks = heap > this.peakHeap && seq >= this.fromSeq && seq < this.toSeq;
    const word = site >>> 5;
    const marks = this.peakBits[word]!;
    const bit = 1 << (site & 31);
    if ((marks & bit) === 0 && !peaks) {
      this.peakBits[word] = marks | bit;
      this.saves.save(site, this.liveBytes[site]!, this.liveCounts[site]!);
    }
    this.liveBytes[site] = this.liveBytes[site]! + size;
    this.liveCounts[site] = this.liveCounts[site]! + 1;
    this.liveCount += 1;
    this.heapBytes = heap;
    const o = this.observer;
    if (o !== undefined) o.change(site, seq, size, 1, thread, index, allocator);
    if (heap > this.maxHeap) {
      this.maxHeap = heap;
      this.maxHeapSeq = seq;
    }
    if (peaks) {
      this.peakHeap = heap;
      this.peakSeq = seq;
      this.nextEpoch();
    }
  }

  /**
   * alloc() of a sampled capture, or by mmap, mremap or PyTraceMalloc_Track. The address from eventAddress, as
   * allocAt() takes it: as an argument (a call V8 does not inline) it was boxed, a heap number per TRACK
   * (numpy_mix: 4.9 M TRACKs and as many UNTRACKs, 0.45 GB of young garbage in `stats` with freeOther()).
   */
  private allocOther(site: SiteId, thread: ThreadIndex, seq: number, size: number, allocator: number): void {
    const address = this.eventAddress[0]!;
    const w = this.rate === undefined ? 1 : sampleWeight(this.rate, size, allocator);
    let index: number;
    if (allocator === MMAP || allocator === MREMAP) {
      // MAP_FIXED over a live mapping replaces it: the old part is gone without a munmap.
      this.unmapRange(address, size, seq, true);
      this.countAlloc(site, size, allocator, w);
      index = this.bumpThreadAllocs(thread);
      this.regions.add(address, size, site, index);
    } else if (allocator === TRACK) {
      // numpy reports buffers it got from malloc: when malloc already showed them, do not count twice.
      if (this.live.has(address) || this.regions.contains(address)) {
        this.duplicateTracks++;
        return;
      }
      if (this.tracked.remove(address)) {
        this.missedFrees++;
        this.releaseRecorded(this.tracked, seq);
      }
      this.countAlloc(site, size, allocator, w);
      index = this.bumpThreadAllocs(thread);
      this.tracked.insert(address, size, site, index);
    } else {
      this.countAlloc(site, size, allocator, w);
      index = this.bumpThreadAllocs(thread);
      if (this.live.insertOrReplace(address, size, site, index)) {
        this.missedFrees++;
        this.releaseRecorded(this.live, seq);
      }
    }
    // `thread` is the site's own (the builder's stack resolver interns sites with it), and `index` is
    // still its thread's latest: no look-up of either for the observer (one per event).
    if (index === 1) this.firstOfThread(thread);
    this.acquire(site, size * w, w, seq, thread, index, allocator);
  }

  /** A free of the address in `eventAddress[0]` (written by the caller just before: see allocAt()). */
  freeAt(seq: number, size: number, deallocator: number): void {
    const address = this.eventAddress[0]!;
    if (seq < this.lastSeq) this.outOfOrder++;
    else this.lastSeq = seq;
    if (!this.windowStarted && seq >= this.fromSeq) this.startWindow();
    if (deallocator === MUNMAP || deallocator === UNTRACK || this.rate !== undefined) {
      this.freeOther(seq, size, deallocator);
      return;
    }
    if (++this.freeRun > FREE_RUN) {
      this.holdFree(seq);
      return;
    }
    // An unsampled capture's free by malloc or Python's allocators (nearly every free): release() and its
    // touch() written out, as the calls were not inlined; the other cases in a function of their own, so
    // that this one is small enough for V8 to inline into the builder's free (one call less per free).
    const table = this.live;
    if (!table.remove(address)) {
      this.unknownFrees++;
      return;
    }
    const site = table.removedSite;
    const bytes = table.removedSize;
    const word = site >>> 5;
    const marks = this.peakBits[word]!;
    const bit = 1 << (site & 31);
    if ((marks & bit) === 0) {
      this.peakBits[word] = marks | bit;
      this.saves.save(site, this.liveBytes[site]!, this.liveCounts[site]!);
    }
    this.liveBytes[site] = this.liveBytes[site]! - bytes;
    this.liveCounts[site] = this.liveCounts[site]! - 1;
    this.liveCount -= 1;
    this.heapBytes -= bytes;
    this.frees += 1;
    const o = this.observer;
    if (o !== undefined) o.change(site, seq, -bytes, -1, this.threadOfFreed(site), table.removedIndex, NO_ALLOCATOR);
    if (this.temporaryThreshold !== undefined) this.checkTemporary(site, bytes, table.removedIndex);
  }

  /** free() by munmap or PyTraceMalloc_Untrack, or of a sampled capture (the address from eventAddress: see allocOther()). */
  private freeOther(seq: number, size: number, deallocator: number): void {
    const address = this.eventAddress[0]!;
    if (this.pending !== 0) this.flushFrees();
    this.freeRun = 0;
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
    // Unsampled (an untrack), releaseRecorded() releases it with weight 1, as the path in free() does.
    this.frees += this.releaseRecorded(table, seq);
    // Temporary allocations need every allocation in between: not counted in a sampled capture.
    if (this.temporaryThreshold !== undefined && this.rate === undefined) this.checkTemporary(table.removedSite, table.removedSize, table.removedIndex);
  }

  /** Holds back the free of the address in eventAddress[0] (a run of FREEs: see `freeRun`). */
  private holdFree(seq: number): void {
    let n = this.pending;
    if (n === this.pendingAddresses.length) {
      if (n === RUN_BATCH) {
        this.flushFrees();
        n = 0;
        // The run goes on; the count kept a small integer (it would pass 2^30 in a run of a billion frees).
        this.freeRun = FREE_RUN + 1;
      } else {
        this.pendingAddresses = new Float64Array(RUN_BATCH);
        this.pendingSeqs = new Float64Array(RUN_BATCH);
        this.pendingSizes = new Float64Array(RUN_BATCH);
        this.pendingSites = new Uint32Array(RUN_BATCH);
        this.pendingIndexes = new Float64Array(RUN_BATCH);
      }
    }
    this.pendingAddresses[n] = this.eventAddress[0]!;
    this.pendingSeqs[n] = seq;
    this.pending = n + 1;
  }

  /**
   * The frees held back, looked up in bulk (LiveTable.removeMany), then each applied in order as freeAt()'s
   * own path applies one: the same sums in the same order, the same observer calls.
   */
  private flushFrees(): void {
    const n = this.pending;
    // A check that also keeps this function past V8's 460 bytes of bytecode for inlining (451 without it): inlined
    // into `get heap` (its call fed by warmFlush()), it made the orderer's and builder's alloc() too big for the
    // records loop to inline them (docs/benchmarks.md, round thirty-one).
    if (n > this.pendingAddresses.length) throw new Error(`${n} frees held back, room for ${this.pendingAddresses.length}`);
    this.pending = 0;
    const sizes = this.pendingSizes;
    const sites = this.pendingSites;
    const indexes = this.pendingIndexes;
    const seqs = this.pendingSeqs;
    this.live.removeMany(this.pendingAddresses, n, sizes, sites, indexes);
    const o = this.observer;
    // The peak saves' values, with room for an entry per free (written at every free, counted when due).
    const saves = this.saves;
    saves.room(n);
    const bits = this.peakBits;
    const savedSite = saves.savedSite;
    const savedBytes = saves.savedBytes;
    const savedCount = saves.savedCount;
    // The saved values' length kept here (the loop's calls read no peak saves), written back after it.
    let saved = saves.savedLength;
    for (let i = 0; i < n; i++) {
      const bytes = sizes[i]!;
      // Added at every free (0 or 1), not in the branch: code only an unknown free runs would have no type
      // feedback when V8 compiles this loop (on accumulate, during the program's end, the read's largest
      // moment), and the first unknown free after would deoptimize it, for another compile.
      this.unknownFrees += bytes < 0 ? 1 : 0;
      if (bytes < 0) continue;
      const site = sites[i]! as SiteId;
      // The peak save's branch written as stores made at every free, for the same reason: in a run's first
      // batch every site may have changed since the peak (rolling_window's end), and the first site that had
      // not deoptimized the loop compiled meanwhile. An entry of the saved values is written at every free, and
      // counted only for a site not changed since the peak. A site being freed holds something (the allocation
      // freed: a count of at least 1), so its entry is one of values, never of the `touched` list (PeakSaves.save()).
      const liveBytes = this.liveBytes[site]!;
      const liveCount = this.liveCounts[site]!;
      const word = site >>> 5;
      const marks = bits[word]!;
      bits[word] = marks | (1 << (site & 31));
      savedSite[saved] = site;
      savedBytes[saved] = liveBytes;
      savedCount[saved] = liveCount;
      saved += ((marks >>> (site & 31)) & 1) ^ 1;
      this.liveBytes[site] = liveBytes - bytes;
      this.liveCounts[site] = liveCount - 1;
      this.liveCount -= 1;
      this.heapBytes -= bytes;
      this.frees += 1;
      if (o !== undefined) o.change(site, seqs[i]!, -bytes, -1, this.threadOfFreed(site), indexes[i]!, NO_ALLOCATOR);
      if (this.temporaryThreshold !== undefined) this.checkTemporary(site, bytes, indexes[i]!);
    }
    saves.savedLength = saved;
  }

  /** Releases what `table.remove()` just found, with its weight (returned). */
  private releaseRecorded(table: LiveTable, seq: number): number {
    const size = table.removedSize;
    const w = this.rate === undefined ? 1 : sampleWeight(this.rate, size, 0);
    this.release(table.removedSite, size * w, w, seq, table.removedIndex);
    return w;
  }

  // ── replay helpers ───────────────────────────────────────────────────────────────────────────────

  /** `w`: how many allocations this one stands for (1 unless sampled). */
  private countAlloc(site: SiteId, size: number, allocator: number, w: number): void {
    const bytes = size * w;
    this.allocations += w;
    if (this.allocations > this.countLimit) this.widenCounts();
    this.bytesAllocated += bytes;
    this.totalCount[site] = this.totalCount[site]! + w;
    this.totalBytes[site] = this.totalBytes[site]! + bytes;
    const k = allocator & 15;
    this.allocatorCounts[k] = this.allocatorCounts[k]! + w;
    this.allocatorBytes[k] = this.allocatorBytes[k]! + bytes;
    const b = sizeBucket(size);
    this.sizeHistogram[b] = this.sizeHistogram[b]! + w;
    if (size < this.minSize) this.minSize = size;
    if (size > this.maxSize) this.maxSize = size;
  }

  private bumpThreadAllocs(thread: ThreadIndex): number {
    if (thread >= this.threadAllocs.length) {
      const grown = new Float64Array(Math.max(thread + 1, this.threadAllocs.length * 2));
      grown.set(this.threadAllocs);
      this.threadAllocs = grown;
    }
    const n = this.threadAllocs[thread]! + 1;
    this.threadAllocs[thread] = n;
    return n;
  }

  /** A thread's first allocation (its index 1): see `soleThread`. */
  private firstOfThread(thread: ThreadIndex): void {
    this.soleThread = this.soleThread === SOLE_NONE ? thread : SOLE_MANY;
  }

  /** The thread of a site with a block being freed (the observer's argument): see `soleThread`. */
  private threadOfFreed(site: SiteId): ThreadIndex {
    const t = this.soleThread;
    return t >= 0 ? (t as ThreadIndex) : this.sites.thread(site);
  }

  private checkTemporary(site: SiteId, bytes: number, index: number): void {
    const thread = this.sites.thread(site);
    const others = this.threadAllocs[thread]! - index;
    if (others <= this.temporaryThreshold!) {
      const c = this.sites.columns;
      c.tempCount.array[site] = c.tempCount.array[site]! + 1;
      c.tempBytes.array[site] = c.tempBytes.array[site]! + bytes;
    }
  }

  /** Saves the site's live value as its value at the latest peak, once, before it changes. */
  private touch(site: SiteId): void {
    const word = site >>> 5;
    const marks = this.peakBits[word]!;
    const bit = 1 << (site & 31);
    if ((marks & bit) === 0) {
      this.peakBits[word] = marks | bit;
      this.saves.save(site, this.liveBytes[site]!, this.liveCounts[site]!);
    }
  }

  /** A new peak: no site has changed since it (PeakSaves.nextPeak()). */
  private nextEpoch(): void {
    this.saves.nextPeak();
  }

  private refreshColumns(): void {
    if (!this.countsChosen) this.chooseCounts();
    const c = this.sites.columns;
    this.totalCount = c.totalCount.array;
    this.totalBytes = c.totalBytes.array;
    this.liveCounts = c.liveCount.array;
    this.liveBytes = c.liveBytes.array;
    this.saves.ensureSites(this.liveBytes.length);
    this.peakBits = this.saves.bits;
  }

  /**
   * Int32 count columns (CountColumn, site-table.ts) for an unsampled capture: its counts are integers, each at
   * most `allocations`. Decided at the first refreshColumns(), when the first event's site arrives, after the
   * header (which gives the sampling); an aggregated capture has no events, so its columns stay Float64 (its
   * counts come from varints: CheckpointLog.totals() widens them in any case).
   */
  private chooseCounts(): void {
    this.countsChosen = true;
    if (this.rate !== undefined) return;
    this.sites.countsInInt32();
    this.countLimit = this.int32CountLimit;
    this.saves.countsInInt32();
  }

  /** The count columns in Float64 from here (past countLimit allocations, or a sampling set late). */
  private widenCounts(): void {
    this.sites.widenCounts();
    this.countLimit = Infinity;
    this.saves.widenCounts();
    this.refreshColumns();
  }

  private acquire(site: SiteId, bytes: number, count: number, seq: number, thread: ThreadIndex, index: number, allocator: number): void {
    this.touch(site);
    this.liveBytes[site] = this.liveBytes[site]! + bytes;
    this.liveCounts[site] = this.liveCounts[site]! + count;
    this.liveCount += count;
    this.heapBytes += bytes;
    this.observer?.change(site, seq, bytes, count, thread, index, allocator);
    if (this.heapBytes > this.maxHeap) {
      this.maxHeap = this.heapBytes;
      this.maxHeapSeq = seq;
    }
    if (this.heapBytes > this.peakHeap && seq >= this.fromSeq && seq < this.toSeq) {
      this.peakHeap = this.heapBytes;
      this.peakSeq = seq;
      this.nextEpoch();
    }
  }

  /** `index`: the freed allocation's number in its thread (for the observer). */
  private release(site: SiteId, bytes: number, count: number, seq: number, index: number): void {
    this.touch(site);
    this.liveBytes[site] = this.liveBytes[site]! - bytes;
    this.liveCounts[site] = this.liveCounts[site]! - count;
    this.liveCount -= count;
    this.heapBytes -= bytes;
    this.observer?.change(site, seq, -bytes, -count, this.threadOfFreed(site), index, NO_ALLOCATOR);
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

  private startWindow(): void {
    if (this.pending !== 0) this.flushFrees();
    this.windowStarted = true;
    // The heap as the window opens is the first candidate peak (a window can open on a falling heap).
    if (this.heapBytes > this.peakHeap) {
      this.peakHeap = this.heapBytes;
      this.peakSeq = this.lastSeq;
      this.nextEpoch();
    }
  }

  // ── off the hot path ─────────────────────────────────────────────────────────────────────────────

  /** A snapshot at (`seq`, `timeNs`): turns the asked time window into seqs (snapshots arrive before the events they precede). */
  seeSnapshot(seq: number, timeNs: number): void {
    if (this.fromNs !== undefined && this.fromSeq === Infinity && timeNs >= this.fromNs) this.fromSeq = seq;
    if (this.toNs !== undefined && this.toSeq === Infinity && timeNs > this.toNs) this.toSeq = seq;
  }

  /** The window the peak was searched in, if one was asked for. */
  window(): PeakWindow | undefined {
    return this.windowAsked ? { fromSeq: this.fromSeq, toSeq: this.toSeq, fromNs: this.fromNs, toNs: this.toNs } : undefined;
  }

  get smallestSize(): number {
    return this.minSize === Infinity ? 0 : this.minSize;
  }

  /**
   * The heap figures of what was replayed. `final`: the replay is over (the window, if not opened yet,
   * opens at the end); otherwise the replay may go on, and nothing here changes what it will find.
   */
  totals(final: boolean, unknownStacks: number): HeapTotals {
    if (this.pending !== 0) this.flushFrees();
    const c = this.sites.columns;
    const n = this.sites.size;
    let peakHeap = this.peakHeap;
    let peakSeq = this.peakSeq;
    let peakFound = true;
    /** A peak at the end not taken yet: no site has changed since it. */
    let atEnd = false;
    if (!this.windowStarted) {
      if (this.fromSeq === Infinity) peakFound = false;
      else if (final) {
        this.startWindow();
        peakHeap = this.peakHeap;
        peakSeq = this.peakSeq;
      } else if (this.heapBytes > this.peakHeap) {
        // What startWindow() would do at the end, without starting the window: the next event may
        // still fall before it.
        peakHeap = this.heapBytes;
        peakSeq = this.lastSeq;
        atEnd = true;
      }
    }
    if (peakHeap < 0) peakFound = false;
    if (!peakFound) {
      // No peak yet: every site's values at it are 0.
      this.sites.setPeaks(SitePeaks.none());
      peakHeap = 0;
    } else {
      // A copy of the saves (the replay may go on), or when final the saves taken over: a site not changed since
      // the latest peak reads its live value.
      const saves = atEnd ? new PeakSaves() : this.saves;
      this.sites.setPeaks(saves.peaks(n, c.liveBytes.array, c.liveCount.array, final));
    }
    return {
      sites: this.sites,
      allocatorCounts: this.allocatorCounts,
      allocatorBytes: this.allocatorBytes,
      unknownStacks,
      impossibleEntries: new ImpossibleValues(),
      allocations: this.allocations,
      bytesAllocated: this.bytesAllocated,
      endHeap: this.heapBytes,
      endLiveCount: this.liveCount,
      maxHeap: this.maxHeap,
      maxHeapSeq: this.maxHeapSeq,
      peakHeap,
      peakSeq,
      peakFound,
      lastSeq: this.lastSeq,
    };
  }
}

/** FREEs in a row (of the live table's kind) past which the next are held back and looked up in bulk (see `freeRun`). */
const FREE_RUN = 4096;
/**
 * The most frees held back at once (36 bytes each: 144 KiB, made at the first long run). More gains nothing:
 * removeMany() reads their lines ahead, and 4096 lines stay in the processor's cache until removed.
 */
const RUN_BATCH = 4096;

/** Rounds of HeapReplay.warmFlush(): well past the ~8 calls after which V8 gives a small function its feedback vector. */
const WARM_FLUSHES = 32;

/** The most allocations for which Int32 count columns are exact (chooseCounts()). */
const INT32_COUNT_LIMIT = 0x7fffffff;

/** Bucket of the size histogram: 0 for 0 bytes, k for [2^(k-1), 2^k). */
export function sizeBucket(size: number): number {
  if (size < 1) return 0;
  if (size < TWO_32) return 32 - Math.clz32(size);
  return 64 - Math.clz32(Math.floor(size / TWO_32));
}
