// What grew in the last seconds before the end of a capture: per site, what was live at a baseline moment
// (the last memory snapshot at least `lastNs` before the end), so that growth = live at the end − that.
//
// The end is not known until the replay ends, so the baseline moves forward as the replay goes: a
// snapshot closes a tick holding the live values of the sites that changed in it; a tick older than the
// newest snapshot minus `lastNs` can never be after the final baseline, so it is folded into the baseline
// and dropped. Ticks close at snapshots at least TICKS_PER_WINDOW-th of the window apart, so the window
// measured is at most 1% longer than asked (it is reported as measured). Memory: two values per site (four
// without the replay's live columns; two more, saved, only through a quiet end: below) plus the changes of
// the last `lastNs` seconds, at most TICKS_PER_WINDOW ticks of them.
//
// Aggregated captures have no events: the same is done with CHECKPOINT entries (the live values of the
// locations that changed since the previous checkpoint, at least once a second), resolved to sites at the
// end of the replay.
//
// The program's last change: a program that stalls before an OOM kill (the kernel reclaiming at the limit
// for tens of seconds) allocates nothing while snapshots go on, so the window at the end is empty. This
// also keeps the window as it was at the snapshot right after the last ALLOC/FREE (or the last checkpoint
// that listed a change): the baseline then, kept by saving what the folds since overwrote (the values of
// the sites the ticks after that moment changed: at most the window's changes). Whether that window is
// what the report shows is the verdict's decision (stall-before-kill.ts): a quiet end is not a stall.

import type { CheckpointEntry, CheckpointRecord } from '../capture/records.js';
import type { SiteId } from '../model/ids.js';
import type { ReplayContext, ReplayObserver } from '../model/replay-observer.js';
import { type ReadonlyCountArray, type ReadonlyFloat64Array, SiteColumn, grownTo, newInt32Array } from '../model/site-table.js';
import { RECENT_DIRTY, RECENT_HELD, SiteMarks } from './live-series.js';
import { TickPacker, TickReader } from './tick-pack.js';
import { type ReadonlySiteValues, SiteHash } from './site-hash.js';

export interface RecentGrowthResult {
  /** The length of the window asked for, ns. */
  readonly lastNs: number;
  /** When the baseline was taken (ns since tracking started); undefined: the start of the capture (the
   * capture is shorter than the window, or has no snapshot old enough). */
  readonly fromNs: number | undefined;
  /** The last snapshot (or checkpoint): the end of the window; undefined when there is none. */
  readonly toNs: number | undefined;
  /** Per site, bytes and count live at the baseline (0 for a site never listed). */
  readonly baseBytes: ReadonlySiteValues;
  readonly baseCount: ReadonlySiteValues;
  /** The tracked heap at the baseline (0 at the start). */
  readonly baseHeap: number;
  /**
   * The program's last allocation or free came before this moment: the first snapshot after it (events),
   * or the last checkpoint that listed a change (aggregated). Undefined: no change was seen (or, events,
   * none before a snapshot).
   */
  readonly lastChangeNs: number | undefined;
  /** Events after the last snapshot changed the heap: the program allocated or freed up to the end. */
  readonly changedAfterLast: boolean;
  /**
   * The same window ending at lastChangeNs rather than at the last snapshot (the same baseline when they are
   * the same moment); undefined when lastChangeNs is.
   */
  readonly beforeLastChange: WindowBase | undefined;
}

/** A window's baseline: what was live at its start. */
export interface WindowBase {
  /** When the baseline was taken; undefined: the start of the capture. */
  readonly fromNs: number | undefined;
  readonly baseBytes: ReadonlySiteValues;
  readonly baseCount: ReadonlySiteValues;
  readonly baseHeap: number;
}

/** Ticks per window: the baseline is exact to a hundredth of the window (50 ms of 5 s). */
export const TICKS_PER_WINDOW = 100;

interface Tick {
  readonly timeNs: number;
  /** The sites and their values (tick-pack.ts); null: in the three arrays below (a value TickPacker refused). */
  readonly packed: Uint8Array | null;
  readonly sites: Int32Array;
  readonly bytes: Float64Array;
  readonly counts: Float64Array;
  readonly heap: number;
}

const NO_SITES = new Int32Array(0);
const NO_VALUES = new Float64Array(0);

interface CheckpointTick {
  readonly timeNs: number;
  readonly entries: readonly CheckpointEntry[];
  readonly heap: number;
}

function entryKey(e: CheckpointEntry): string {
  return `${e.stream}:${e.stack}:${e.nativeStack}:${e.allocator}`;
}

export class RecentGrowth implements ReplayObserver {
  /** Reads no index. */
  readonly indexesFrom = Infinity;
  private readonly liveBytes = new SiteColumn(1024);
  private readonly liveCount = new SiteColumn(1024);
  /**
   * The replay's own live columns, once begin() gives them: they hold what this would add up (the replay
   * tells the observer every change it makes, and snapshots stop reaching this one when it stops being
   * told), so change() only marks the site. Undefined: this keeps its own (unit tests).
   */
  private shared: { readonly bytes: { readonly array: ReadonlyFloat64Array }; readonly count: { readonly array: ReadonlyCountArray } } | undefined;
  /**
   * The baseline: the sites not at 0 in it (site-hash.ts) rather than columns of every site, as it holds the
   * sites live at one moment that a tick listed, a few of the capture's (it was 64 MiB of columns on call_sites
   * for 8.7 k sites; then 32 MiB of 512-site pages, made by 5.2 k sites at the end of the read and by the sites
   * that were held once and went back to 0: docs/benchmarks.md, rounds twenty-six and twenty-seven).
   */
  private readonly baseBytes = new SiteHash();
  private readonly baseCount = new SiteHash();
  /** Sites below this have room in `marks` (and in the own live columns when they are kept). */
  private room = 0;
  /**
   * The sites changed since the last tick, `nDirty` of them, in an array kept from tick to tick (live-series.ts);
   * RECENT_DIRTY marks them, RECENT_HELD the sites whose last listed value is not 0 (SiteMarks).
   */
  private dirty = new Int32Array(1024);
  private nDirty = 0;
  private readonly packer = new TickPacker();
  /** The ticks not folded yet from `head` on; the folded ones before it are let go at once (undefined). */
  private ticks: (Tick | undefined)[] = [];
  private head = 0;
  private heap = 0;
  private baseHeap = 0;
  private baseNs: number | undefined;
  private lastSnapshotNs: number | undefined;
  private lastTickNs: number | undefined;

  // The window before the last change: a change since the previous snapshot; when the last change was
  // seen, and the baseline then (the values of the sites the folds have overwritten since, and its time
  // and heap).
  private changed = false;
  private lastChangeNs: number | undefined;
  private changeBaseNs: number | undefined;
  private changeBaseHeap = 0;
  // The sites saved since the last change: their values then, stamped with the change's number (no list to
  // clear at each change: the folds run at every snapshot). Only a fold at a snapshot with no change since the
  // previous one saves (at one with a change, changeSeen() would drop the saves at once), so these grow only in
  // a quiet end: 20 bytes a site that a program busy to its end never writes as columns (call_sites at 5 %:
  // columns of 2 M sites, 40 MiB; docs/benchmarks.md, round nineteen), and call_sites, whose end is quiet (the
  // program's end, then memlens's release), grew them to columns of 4 M sites for 6.2 k saves (round
  // twenty-six): kept for the saved sites alone (site-hash.ts; pages of sites in round twenty-six).
  private changeNumber = 1;
  private readonly savedAt = new SiteHash();
  private readonly savedBytes = new SiteHash();
  private readonly savedCount = new SiteHash();
  private savedSites: number[] = [];

  // Aggregated captures: checkpoint entries by location key.
  private cpTicks: CheckpointTick[] = [];
  private cpHead = 0;
  private readonly cpBase = new Map<string, CheckpointEntry>();
  private cpResolved = false;
  /** The entries cpBase held at the last change, for the keys the folds have overwritten since (null: none). */
  private readonly cpOverwritten = new Map<string, CheckpointEntry | null>();
  private cpChangeBase: { readonly bytes: SiteHash; readonly count: SiteHash } | undefined;

  /** `marks`: shared with LiveSeries (forensics.ts); default: its own. */
  constructor(
    private readonly lastNs: number,
    private readonly marks: SiteMarks = new SiteMarks(),
  ) {}

  begin(context: ReplayContext): void {
    this.shared = { bytes: context.sites.columns.liveBytes, count: context.sites.columns.liveCount };
  }

  /**
   * Lists a site changed since the last tick whose change may matter to it (its RECENT_DIRTY clear: the caller
   * sets it): ForensicsObserver's way in, with caughtUp() (forensics.ts), in place of change().
   */
  listSite(site: SiteId): void {
    if (site >= this.room) this.grow(site + 1);
    if (this.nDirty === this.dirty.length) this.dirty = grownTo(this.dirty, this.nDirty + 1, newInt32Array);
    this.dirty[this.nDirty++] = site;
  }

  /**
   * What change() adds up besides its list, from ForensicsObserver: the heap (the sum of every change's bytes
   * so far) and whether a change came since the last snapshot (`changed`: any since the last call).
   */
  caughtUp(heap: number, changed: boolean): void {
    this.heap = heap;
    if (changed) this.changed = true;
  }

  change(site: SiteId, _seq: number, bytes: number, count: number): void {
    if (site >= this.room) this.grow(site + 1);
    if (this.shared === undefined) {
      this.liveBytes.array[site] = this.liveBytes.array[site]! + bytes;
      this.liveCount.array[site] = this.liveCount.array[site]! + count;
    }
    this.heap += bytes;
    this.changed = true;
    const marks = this.marks.array;
    const m = marks[site]!;
    if ((m & RECENT_DIRTY) === 0) {
      marks[site] = m | RECENT_DIRTY;
      if (this.nDirty === this.dirty.length) this.dirty = grownTo(this.dirty, this.nDirty + 1, newInt32Array);
      this.dirty[this.nDirty++] = site;
    } else if ((m & RECENT_HELD) === 0 && (bytes < 0 || count < 0) && this.atZero(site)) {
      // Back at 0, its last listed value: the tick will not list it (snapshot() leaves such sites out) unless
      // it changes again. Taken off the list when it is the last entry (a block freed before the next
      // allocation of another site), and so are the entries before it whose marks are clear (sites back at 0
      // earlier: a chain of calls freed in the order it allocated, call_sites' dicts, leaves its entries to the
      // last free); else left, its mark clear, and passed over. Their marks were just written (the lines are
      // in cache), where the tick read them cold: on call_sites the list held an entry for nearly every
      // allocation of the tick (docs/benchmarks.md, round thirty). An entry whose mark is clear is one the tick
      // passes over (a site listed again has its mark set, and its later entry stands); the order of a tick's
      // sites does not matter (each is folded once).
      marks[site] = m & ~RECENT_DIRTY;
      const dirty = this.dirty;
      let n = this.nDirty;
      while (n > 0 && (marks[dirty[n - 1]!]! & RECENT_DIRTY) === 0) n--;
      this.nDirty = n;
    }
  }

  /** The site's live bytes and count are both 0 (read just after the replay wrote them). */
  private atZero(site: SiteId): boolean {
    const shared = this.shared;
    if (shared === undefined) return this.liveBytes.array[site] === 0 && this.liveCount.array[site] === 0;
    return shared.bytes.array[site] === 0 && shared.count.array[site] === 0;
  }

  snapshot(_seq: number, timeNs: number): void {
    if (this.lastSnapshotNs === undefined || timeNs > this.lastSnapshotNs) this.lastSnapshotNs = timeNs;
    const changed = this.changed;
    this.changed = false;
    if (this.lastTickNs !== undefined && timeNs - this.lastTickNs < this.lastNs / TICKS_PER_WINDOW) {
      // No tick here; the baseline still follows the snapshots, so that one after a change is kept as it was.
      this.fold(timeNs - this.lastNs, !changed);
      if (changed) this.changeSeen(timeNs);
      return;
    }
    this.lastTickNs = timeNs;
    const dirty = this.dirty;
    const liveBytes = this.shared?.bytes.array ?? this.liveBytes.array;
    const liveCount = this.shared?.count.array ?? this.liveCount.array;
    // A site at 0 now whose last listed value was 0 too (or that was never listed: the baseline starts at 0)
    // is left out: a fold would write the value the baseline already has from that earlier tick, or 0 where
    // no tick listed it. On call_sites 98.7 % of the sites a tick changed were allocated and freed inside
    // it (24 M of 24.2 M entries, 126 MB of ticks; docs/benchmarks.md, round twenty-three).
    const marks = this.marks.array;
    let n = 0;
    for (let i = 0; i < this.nDirty; i++) {
      const s = dirty[i]!;
      const m = marks[s]!;
      // Left at 0 by change(), or listed twice (left at 0, then changed again): the first entry stands.
      if ((m & RECENT_DIRTY) === 0) continue;
      if (liveBytes[s] !== 0 || liveCount[s] !== 0) {
        marks[s] = (m & ~RECENT_DIRTY) | RECENT_HELD;
        dirty[n++] = s;
      } else {
        marks[s] = m & ~(RECENT_DIRTY | RECENT_HELD);
        if ((m & RECENT_HELD) !== 0) dirty[n++] = s;
      }
    }
    this.nDirty = 0;
    const packed = this.packer.pack(dirty, liveBytes, liveCount, n);
    if (packed !== null) {
      this.ticks.push({ timeNs, packed, sites: NO_SITES, bytes: NO_VALUES, counts: NO_VALUES, heap: this.heap });
    } else {
      const sites = dirty.slice(0, n);
      const bytes = new Float64Array(n);
      const counts = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const s = sites[i]!;
        bytes[i] = liveBytes[s]!;
        counts[i] = liveCount[s]!;
      }
      this.ticks.push({ timeNs, packed: null, sites, bytes, counts, heap: this.heap });
    }
    this.fold(timeNs - this.lastNs, !changed);
    if (changed) this.changeSeen(timeNs);
  }

  checkpoint(record: CheckpointRecord): void {
    this.cpTicks.push({ timeNs: record.timeNs, entries: record.entries, heap: record.heap });
    if (this.lastSnapshotNs === undefined || record.timeNs > this.lastSnapshotNs) this.lastSnapshotNs = record.timeNs;
    this.foldCheckpoints(record.timeNs - this.lastNs);
    // A checkpoint lists the locations that changed since the previous one: none listed, nothing was done
    // (the agent leaves a periodic one out then; one near an OOM is written all the same).
    if (record.entries.length > 0) this.changeSeen(record.timeNs);
  }

  /** A change came before `timeNs`: the window before the last change is, so far, the one ending here. */
  private changeSeen(timeNs: number): void {
    this.lastChangeNs = timeNs;
    this.changeBaseNs = this.baseNs;
    this.changeBaseHeap = this.baseHeap;
    this.changeNumber++;
    this.savedSites = [];
    this.cpOverwritten.clear();
  }

  resolveCheckpoints(siteOf: (entry: CheckpointEntry) => SiteId): void {
    if (this.lastSnapshotNs !== undefined) this.foldCheckpoints(this.lastSnapshotNs - this.lastNs);
    for (const e of this.cpBase.values()) {
      const site = siteOf(e);
      if (site >= this.room) this.grow(site + 1);
      this.baseBytes.add(site, e.liveBytes);
      this.baseCount.add(site, e.liveCount);
    }
    if (this.cpOverwritten.size > 0) {
      // The baseline at the last change: cpBase with the entries folded since taken back.
      const then = new Map(this.cpBase);
      for (const [key, e] of this.cpOverwritten) {
        if (e === null) then.delete(key);
        else then.set(key, e);
      }
      // Every key of `then` is in cpBase (which only gains keys): its site was resolved above.
      const bytes = new SiteHash();
      const count = new SiteHash();
      for (const e of then.values()) {
        const site = siteOf(e);
        bytes.add(site, e.liveBytes);
        count.add(site, e.liveCount);
      }
      this.cpChangeBase = { bytes, count };
    }
    this.cpResolved = true;
  }

  /** Bytes held by the ticks not folded yet, and by any folded ones still held (for tests). */
  get ticksByteLength(): number {
    let n = 0;
    for (const t of this.ticks) if (t !== undefined) n += (t.packed?.byteLength ?? 0) + t.sites.byteLength + t.bytes.byteLength + t.counts.byteLength;
    return n;
  }

  /** Entries in the list of the sites changed since the last tick (for tests). */
  get listed(): number {
    return this.nDirty;
  }

  /** Bytes held by the per-site columns (for tests and the memory figures in benchmarks). */
  get byteLength(): number {
    const cols = [this.liveBytes, this.liveCount, this.baseBytes, this.baseCount, this.savedAt, this.savedBytes, this.savedCount];
    return cols.reduce((n, c) => n + c.byteLength, 0) + this.marks.array.byteLength;
  }

  finish(): RecentGrowthResult {
    if (this.lastSnapshotNs !== undefined && !this.cpResolved) {
      // The last snapshot may not have closed a tick (too close to the previous one): the window's end is
      // the end of the replay anyway (live values at the end), so only folding needs it.
      this.fold(this.lastSnapshotNs - this.lastNs, true);
    }
    return {
      lastNs: this.lastNs,
      fromNs: this.baseNs,
      toNs: this.lastSnapshotNs,
      baseBytes: this.baseBytes,
      baseCount: this.baseCount,
      baseHeap: this.baseHeap,
      lastChangeNs: this.lastChangeNs,
      changedAfterLast: this.changed,
      beforeLastChange: this.lastChangeNs === undefined ? undefined : this.baseAtLastChange(),
    };
  }

  /** The baseline as it was at the last change: today's, with what the folds since overwrote put back. */
  private baseAtLastChange(): WindowBase {
    const at = { fromNs: this.changeBaseNs, baseHeap: this.changeBaseHeap };
    if (this.cpResolved) {
      const b = this.cpChangeBase;
      return { ...at, baseBytes: b?.bytes ?? this.baseBytes, baseCount: b?.count ?? this.baseCount };
    }
    if (this.savedSites.length === 0) return { ...at, baseBytes: this.baseBytes, baseCount: this.baseCount };
    const baseBytes = this.baseBytes.clone();
    const baseCount = this.baseCount.clone();
    for (const site of this.savedSites) {
      baseBytes.set(site, this.savedBytes.get(site));
      baseCount.set(site, this.savedCount.get(site));
    }
    return { ...at, baseBytes, baseCount };
  }

  /**
   * Folds every tick at or before `untilNs` into the baseline. `quiet`: no change is seen after this fold (a
   * snapshot with none since the previous one, or the end), so what it overwrites is saved for the window
   * before the last change.
   */
  private fold(untilNs: number, quiet: boolean): void {
    while (this.head < this.ticks.length && this.ticks[this.head]!.timeNs <= untilNs) {
      const t = this.ticks[this.head]!;
      const keep = quiet && this.lastChangeNs !== undefined;
      if (t.packed !== null) {
        const r = new TickReader(t.packed);
        while (r.next()) this.foldSite(r.site, r.bytes, r.count, keep);
      } else {
        for (let i = 0; i < t.sites.length; i++) this.foldSite(t.sites[i]!, t.bytes[i]!, t.counts[i]!, keep);
      }
      this.baseNs = t.timeNs;
      this.baseHeap = t.heap;
      // Its arrays go now, not at the slice below (up to 1024 folded ticks later: a busy capture longer than
      // the window held ten windows of ticks).
      this.ticks[this.head] = undefined;
      this.head++;
    }
    // Drop folded ticks' slots now and then rather than shifting the array at every snapshot.
    if (this.head > 1024 && this.head * 2 > this.ticks.length) {
      this.ticks = this.ticks.slice(this.head);
      this.head = 0;
    }
  }

  /** The baseline of `s` becomes (bytes, count); `keep`: the value it had is saved (see fold). */
  private foldSite(s: number, bytes: number, count: number, keep: boolean): void {
    if (keep && this.savedAt.get(s) !== this.changeNumber) {
      this.savedAt.set(s, this.changeNumber);
      this.savedBytes.set(s, this.baseBytes.get(s));
      this.savedCount.set(s, this.baseCount.get(s));
      this.savedSites.push(s);
    }
    this.baseBytes.set(s, bytes);
    this.baseCount.set(s, count);
  }

  private foldCheckpoints(untilNs: number): void {
    while (this.cpHead < this.cpTicks.length && this.cpTicks[this.cpHead]!.timeNs <= untilNs) {
      const t = this.cpTicks[this.cpHead]!;
      const keep = this.lastChangeNs !== undefined;
      for (const e of t.entries) {
        const key = entryKey(e);
        if (keep && !this.cpOverwritten.has(key)) this.cpOverwritten.set(key, this.cpBase.get(key) ?? null);
        this.cpBase.set(key, e);
      }
      this.baseNs = t.timeNs;
      this.baseHeap = t.heap;
      this.cpHead++;
    }
    if (this.cpHead > 64 && this.cpHead * 2 > this.cpTicks.length) {
      this.cpTicks = this.cpTicks.slice(this.cpHead);
      this.cpHead = 0;
    }
  }

  private grow(n: number): void {
    // The own live columns only when the replay's are not shared: 16 bytes a site otherwise never read
    // (call_sites at 5 %: 1.18 M sites, columns of 2 M, 32 MiB; docs/benchmarks.md, round eighteen).
    if (this.shared === undefined) {
      this.liveBytes.ensure(n);
      this.liveCount.ensure(n);
    }
    this.marks.ensure(n);
    // The columns double (SiteColumn, grownTo): grown again only past the smallest of them.
    let room = this.marks.array.length;
    if (this.shared === undefined) room = Math.min(room, this.liveBytes.array.length, this.liveCount.array.length);
    this.room = room;
  }
}
