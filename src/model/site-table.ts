// Allocation sites and what happened at each. A site is (Python stack, native stack, thread, allocator):
// the finest grain any report needs. Everything per site lives in parallel typed arrays indexed by site
// id, so memory grows with the number of distinct sites, never with the number of events.

import type { NativeNodeId1, PyNodeId1, SiteId, ThreadIndex } from './ids.js';
import { type ReadonlySitePeaks, SitePeaks } from './site-peaks.js';
import { hashTriple, NO_TAGS, overLoad, slotTag, TAG_ID_BITS, TupleInterner } from './tuple-interner.js';

/** A Float64Array its holder may read but not write (the model's columns, shared with the builder). */
export type ReadonlyFloat64Array = Readonly<Omit<Float64Array, 'copyWithin' | 'fill' | 'reverse' | 'set' | 'sort' | 'subarray'>>;

/** An Int32Array its holder may read but not write (the count columns in 4 bytes: CountColumn). */
export type ReadonlyInt32Array = Readonly<Omit<Int32Array, 'copyWithin' | 'fill' | 'reverse' | 'set' | 'sort' | 'subarray'>>;
/** A count column's array as the analyses read it: Float64 or Int32 (CountColumn). They only index it. */
export type ReadonlyCountArray = ReadonlyFloat64Array | ReadonlyInt32Array;

/** One per-site quantity; grows with the site table. */
export class SiteColumn {
  protected data: Float64Array;
  constructor(initial: number | Float64Array) {
    this.data = typeof initial === 'number' ? new Float64Array(initial) : initial;
  }
  /** Nothing but the array: observers read it per event, inlined into the replay's hot path (see OnDemandColumn). */
  get array(): Float64Array {
    return this.data;
  }
  /** Bytes held (0 for an on-demand column not asked for yet): reading it makes nothing. */
  get byteLength(): number {
    return this.data.byteLength;
  }
  /** A copy (an on-demand column's copy is on demand still). */
  clone(): SiteColumn {
    return new SiteColumn(this.data.slice());
  }
  /**
   * Doubling. Growing by a quarter past 2^20 entries (at most 1.25x the sites rather than 2x) was tried and not
   * kept: on call_sites at 20 % the read's peak rose from 556 to 798 MiB, the outgrown columns, more of them and
   * of odd sizes, staying in malloc's heap (docs/benchmarks.md, round eighteen). A table with room for the sites
   * the capture will have (SiteTable's `capacity`) grows to it once, past ROOM_FROM_SITES, and not again.
   */
  ensure(n: number): void {
    if (n <= this.data.length) return;
    let cap = this.data.length * 2;
    while (cap < n) cap *= 2;
    const grown = new Float64Array(cap);
    grown.set(this.data);
    this.data = grown;
  }
}

/**
 * A per-site count (the site table's totalCount and liveCount): in Int32 for an unsampled event capture,
 * whose counts are integers, each at most the replay's `allocations` (a site's total is at least its live count,
 * and the totals sum to `allocations`): exact while the replay has made at most 2^31 - 1 allocations, and the
 * replay widens them to Float64 (toFloat64()) before it passes that (heap-replay.ts, `countLimit`). 4 bytes a
 * site rather than 8: call_sites' 2.6 M sites, 31 MiB less for the three count columns of round twenty-five
 * (the count at the peak was the third until round twenty-seven: site-peaks.ts) through the read, whose end is
 * summary's and verdict's peak (docs/benchmarks.md, round twenty-five). Float64 otherwise: a sampled capture's
 * counts are sums of weights 1/p, an aggregated capture's come from varints.
 * A class of its own rather than SiteColumn's `data` typed as either: the bytes columns stay Float64Array to
 * their readers.
 */
export class CountColumn {
  private data: Float64Array | Int32Array;
  constructor(initial: number | Float64Array | Int32Array) {
    this.data = typeof initial === 'number' ? new Float64Array(initial) : initial;
  }
  get array(): Float64Array | Int32Array {
    return this.data;
  }
  get byteLength(): number {
    return this.data.byteLength;
  }
  /** The counts are in Int32 (toInt32()). */
  get isInt32(): boolean {
    return this.data instanceof Int32Array;
  }
  clone(): CountColumn {
    return new CountColumn(this.data.slice());
  }
  /** Doubling (grownTo()), in the column's own type. */
  ensure(n: number): void {
    const data = this.data;
    this.data = data instanceof Int32Array ? grownTo(data, n, newInt32Array) : grownTo(data, n, newFloat64Array);
  }
  /** In 4 bytes an entry, the values kept (integers below 2^31: the caller's to know). */
  toInt32(): void {
    if (!(this.data instanceof Int32Array)) this.data = new Int32Array(this.data);
  }
  /** In 8 bytes an entry, the values kept. */
  toFloat64(): void {
    if (!(this.data instanceof Float64Array)) this.data = new Float64Array(this.data);
  }
}

/**
 * A SiteColumn that holds nothing until something reads or writes its array: it only notes how far the table
 * grew, and its array is made at that size the first time it is asked for (then it grows as the others do).
 * The site table's `tempCount` and `tempBytes` are written only when the replay counts temporary allocations,
 * `updatedSeq` only for an aggregated capture: 24 bytes a site that a report on an event capture never touches
 * (call_sites at 5 % of its size: 1.18 M sites, columns of 2 M, 48 MiB; docs/benchmarks.md, round nineteen).
 * A subclass rather than a flag of SiteColumn: the check in SiteColumn's `array` getter, read per event by
 * the observers, left the live table's `home()` a call in the replay's freeAt (V8's inlining budget):
 * rolling_window's `verdict` took 10 % more CPU (round nineteen, lead25).
 */
export class OnDemandColumn extends SiteColumn {
  /** Not made yet: the length the table asked for so far (else -1). */
  private wanted: number;
  constructor(initial: number) {
    super(EMPTY);
    this.wanted = initial;
  }
  override get array(): Float64Array {
    if (this.wanted >= 0) this.make();
    return this.data;
  }
  override clone(): SiteColumn {
    return this.wanted < 0 ? new SiteColumn(this.data.slice()) : new OnDemandColumn(this.wanted);
  }
  override ensure(n: number): void {
    if (this.wanted < 0) super.ensure(n);
    else if (n > this.wanted) this.wanted = n;
  }
  /** The array, at the capacity the doublings from the table's first 4096 would have reached. */
  private make(): void {
    let cap = 4096;
    while (cap < this.wanted) cap *= 2;
    this.data = new Float64Array(cap);
    this.wanted = -1;
  }
}

const EMPTY = new Float64Array(0);

/**
 * `arr` with room for `n` entries (doubling, contents kept): the per-site columns of observers that hold a
 * flag or a tick number, in 1 or 4 bytes rather than a SiteColumn's 8 (a capture can have millions of sites:
 * call_sites at 5 % of its size has 1.18 M; docs/benchmarks.md, round eighteen), and ReallocGrowth's entries.
 */
export function grownTo<T extends Int32Array | Uint8Array | Float64Array>(arr: T, n: number, make: (length: number) => T): T {
  if (n <= arr.length) return arr;
  let cap = Math.max(16, arr.length * 2);
  while (cap < n) cap *= 2;
  const grown = make(cap);
  grown.set(arr);
  return grown;
}

/**
 * grownTo()'s makers, made once: a closure written at the call made two objects per call, and the observers grow
 * their columns once per new site (call_sites: 2.6 M sites, ~300 MB of young garbage; docs/benchmarks.md, round twenty).
 */
export const newInt32Array = (length: number): Int32Array<ArrayBuffer> => new Int32Array(length);
export const newUint8Array = (length: number): Uint8Array<ArrayBuffer> => new Uint8Array(length);
export const newFloat64Array = (length: number): Float64Array<ArrayBuffer> => new Float64Array(length);

/**
 * The per-site columns. The values at the peak are not among them since round twenty-seven: the replay keeps them
 * only for the sites changed since the peak (site-peaks.ts, the table's `peak`).
 */
export const SITE_COLUMNS = ['totalCount', 'totalBytes', 'liveCount', 'liveBytes', 'tempCount', 'tempBytes', 'updatedSeq'] as const;
export type SiteColumnName = (typeof SITE_COLUMNS)[number];
/** Columns made only when read or written (SiteColumn): temporary allocations, and aggregated captures' updates. */
const ON_DEMAND: ReadonlySet<SiteColumnName> = new Set(['tempCount', 'tempBytes', 'updatedSeq']);
/** The count columns (CountColumn): Float64 or Int32. */
export const COUNT_COLUMNS = ['totalCount', 'liveCount'] as const;
export type CountColumnName = (typeof COUNT_COLUMNS)[number];
const COUNTS: ReadonlySet<SiteColumnName> = new Set(COUNT_COLUMNS);

/** A SiteTable's columns: the counts in CountColumns, the others in SiteColumns. */
export type SiteColumns = { readonly [K in SiteColumnName]: K extends CountColumnName ? CountColumn : SiteColumn };

/** A SiteTable as the model hands it to analyses: reads only. */
export interface ReadonlySiteTable {
  readonly size: number;
  readonly columns: { readonly [K in SiteColumnName]: { readonly array: K extends CountColumnName ? ReadonlyCountArray : ReadonlyFloat64Array } };
  pyStack(site: SiteId): PyNodeId1;
  nativeStack(site: SiteId): NativeNodeId1;
  thread(site: SiteId): ThreadIndex;
  allocator(site: SiteId): number;
  /** The values at the peak (site-peaks.ts): set by the replay's or the checkpoints' totals(). */
  readonly peak: ReadonlySitePeaks;
  /** Bytes held by the table (for the memory figures in benchmarks). */
  readonly byteLength: number;
}

/**
 * The sites' keys (Python node, native node, thread, allocator), interned into dense ids: a TupleInterner
 * of arity 4 in Int32Array rather than Float64Array, every component being below 2^31 (node ids count
 * nodes; thread indexes and allocators are small). 16 bytes a site rather than 32: call_sites at 5 % of
 * its size has 1.18 M sites, keys of 2 M, 32 MiB less (docs/benchmarks.md, round eighteen). Since round
 * twenty-six 12 bytes: the thread and the allocator share an entry (ALLOCATOR_LIMIT). A copy of
 * TupleInterner's code rather than an option of it: one array type per class keeps its hot loop's
 * element reads monomorphic.
 *
 * Since round thirty a site is found one of two ways: the first site of each Python node (below FIRST_LIMIT) by
 * its node (`first`, 4 bytes a node), every other site by the hash index (`slots`). call_sites' 2.62 M sites are
 * all but 830 the first of their node: the index held them all (16 MiB), and putting them in it, each a cache miss
 * in 16 MiB, then rehashing it as it doubled, cost ~0.6 s of a 14.5 s summary (docs/benchmarks.md, round thirty),
 * for a probe that a first site never needed. Exported for its tests only.
 */
export class SiteKeys {
  /** Three entries a site: Python node, native node, and the thread and allocator in one (ALLOCATOR_LIMIT). */
  private values: Int32Array;
  /** The index of the sites that are not the first of their Python node (`first`): empty slots -1. */
  private slots: Int32Array;
  private mask: number;
  count = 0;
  /** Sites in the index (those that `first` does not hold). */
  private indexed = 0;
  /** The (thread, allocator) pairs that do not fit in one entry (ALLOCATOR_LIMIT): their entry is -1 - their id here. */
  private wide: TupleInterner;
  /** Where a slot's tag starts, above its id's bits (NO_TAGS once the ids outgrew them), and the id's bits: as PyNodeInterner's. */
  private tagShift: number;
  private idMask: number;

  /** The room (SiteTable's): past `roomFrom` sites, the keys grow to `room` sites at once rather than doubling. */
  private readonly room: number;
  private readonly roomFrom: number;

  /**
   * At p, for the Python nodes p below `first.length` (grown as nodes come, up to FIRST_LIMIT): the id + 1 of the
   * first site whose Python node is p (0: none yet). That site is not in the index: a site whose node has none is new
   * without a probe, and a site of a node whose first site has other keys is looked for in the index. Node ids are
   * dense (StackResolver's interner), so this is 4 bytes a node up to the largest node with a site: call_sites' 3.26 M
   * nodes, 13 MiB, where the index of all its sites was 16 MiB. Written and read near the newest nodes mostly (a new
   * node's first event follows its FRAME): the cache holds those lines, where the index's slots were each a miss.
   * Empty while the index is dropped (mask 0).
   */
  private first: Int32Array;

  /** `idBits`: the id bits of a tagged slot (tests use fewer than TAG_ID_BITS, to reach the end of the tags). */
  constructor(initialCapacity: number, from?: SiteKeys, room = initialCapacity, roomFrom = Infinity, idBits = TAG_ID_BITS) {
    if (from !== undefined) {
      this.first = from.first.slice();
      this.values = from.values.slice();
      this.slots = from.slots.slice();
      this.wide = from.wide.clone();
      this.mask = from.mask;
      this.count = from.count;
      this.indexed = from.indexed;
      this.room = from.room;
      this.roomFrom = from.roomFrom;
      this.tagShift = from.tagShift;
      this.idMask = from.idMask;
      return;
    }
    this.room = room;
    this.roomFrom = roomFrom;
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.slots = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    this.values = new Int32Array(Math.max(16, initialCapacity) * 3);
    this.first = new Int32Array(Math.max(16, initialCapacity));
    this.wide = new TupleInterner(2, 16);
    this.tagShift = Math.min(idBits, TAG_ID_BITS);
    this.idMask = (1 << this.tagShift) - 1;
  }

  /** Room for `n` sites: doubling, or the room at once past roomFrom (SiteTable's constructor). */
  private growValues(n: number): void {
    const sites = n > this.roomFrom && this.room >= n ? this.room : (this.values.length / 3) * 2;
    const grown = new Int32Array(sites * 3);
    grown.set(this.values);
    this.values = grown;
  }

  /**
   * The index is kept up to 4/5 full (overLoad(), as PyNodeInterner's; was 1/2): it held call_sites' 2.6 M sites in
   * 2^22 slots (16 MiB) rather than 2^23 (32 MiB) until round thirty (docs/benchmarks.md, round twenty-four). A slot
   * holds 5 bits of its key's hash above the id (slotTag()), so a probe reads the keys (a cache miss each, in 12
   * bytes a site) only of the slots whose tag matches: the longer chains of a fuller index cost adjacent slot reads,
   * not key reads.
   */
  intern(a: number, b: number, c: number, d: number): number {
    if (!(a <= 0x7fffffff && b <= 0x7fffffff && c <= 0x7fffffff && d <= 0x7fffffff)) throw new RangeError(`site key (${a}, ${b}, ${c}, ${d}) past 2^31`);
    if (this.mask === 0) this.rebuildIndex();
    const t = c >= 0 && c < THREAD_LIMIT && d >= 0 && d < ALLOCATOR_LIMIT ? (c << ALLOCATOR_BITS) | d : -1 - this.wide.intern(c, d);
    // The first site of its Python node: by the node, no probe (and not in the index).
    if (a >= 0 && a < FIRST_LIMIT) {
      if (a >= this.first.length) this.first = grownTo(this.first, a + 1, newInt32Array);
      const f = this.first[a]!;
      if (f === 0) {
        const id = this.add(a, b, t);
        this.first[a] = id + 1;
        if (this.count === this.idMask + 1) this.rehash(this.mask + 1);
        return id;
      }
      const base = (f - 1) * 3;
      if (this.values[base + 1] === b && this.values[base + 2] === t) return f - 1;
    }
    const h = hashTriple(a, b, t);
    const values = this.values;
    const idMask = this.idMask;
    const tag = slotTag(h, this.tagShift);
    const slots = this.slots;
    const mask = this.mask;
    let slot = h & mask;
    for (;;) {
      const s = slots[slot]!;
      if (s === -1) break;
      if ((s & ~idMask) === tag) {
        const base = (s & idMask) * 3;
        if (values[base] === a && values[base + 1] === b && values[base + 2] === t) return s & idMask;
      }
      slot = (slot + 1) & mask;
    }
    const id = this.add(a, b, t);
    slots[slot] = id | tag;
    this.indexed++;
    // At idMask + 1 ids the next one needs more bits: no tags from here.
    if (overLoad(this.indexed, mask + 1) || this.count === this.idMask + 1) this.rehash(mask + 1);
    return id;
  }

  /**
   * A new site (key a, b, t): its id. The caller puts it in `first` or in the index, then makes the index again if
   * the ids outgrew its tags (rehash() reads `first` to tell the sites of the index).
   */
  private add(a: number, b: number, t: number): number {
    const id = this.count++;
    if ((id + 1) * 3 > this.values.length) this.growValues(id + 1);
    const base = id * 3;
    this.values[base] = a;
    this.values[base + 1] = b;
    this.values[base + 2] = t;
    return id;
  }

  /** Component `k` of site `id`'s key: 0 Python node, 1 native node, 2 thread, 3 allocator. */
  get(id: number, k: number): number {
    if (k < 2) return this.values[id * 3 + k]!;
    const t = this.values[id * 3 + 2]!;
    if (t < 0) return this.wide.get(-1 - t, k - 2);
    return k === 2 ? t >>> ALLOCATOR_BITS : t & (ALLOCATOR_LIMIT - 1);
  }

  get byteLength(): number {
    return this.values.byteLength + this.indexBytes;
  }

  /** Bytes of the index (its slots and the Python nodes' first sites). */
  get indexBytes(): number {
    return this.slots.byteLength + this.first.byteLength;
  }

  /** The index given up (SiteTable's seal()): only intern() reads it. */
  dropIndex(): void {
    this.slots = NO_SLOTS;
    this.first = NO_FIRST;
    this.mask = 0;
  }

  /** The index made again from the keys (after dropIndex()): the smallest within the load limit, as intern() keeps it. */
  rebuildIndex(): void {
    let top = -1;
    const values = this.values;
    const n = this.count;
    for (let id = 0; id < n; id++) {
      const a = values[id * 3]!;
      if (a >= 0 && a < FIRST_LIMIT && a > top) top = a;
    }
    const first = new Int32Array(Math.max(16, top + 1));
    let indexed = 0;
    for (let id = 0; id < n; id++) {
      const a = values[id * 3]!;
      if (a >= 0 && a < FIRST_LIMIT && first[a] === 0) first[a] = id + 1;
      else indexed++;
    }
    this.first = first;
    this.indexed = indexed;
    let cap = 16;
    while (overLoad(indexed, cap)) cap *= 2;
    this.rehash(cap);
  }

  /**
   * The index made again at `size` slots, or doubled if its sites overload it (or as many, when only the tags go:
   * the ids outgrew them), its sites put in region by region rather than in id order: an id's home in an index of
   * millions of slots is a cache miss, and the plain loop took one per site (call_sites: 0.3-0.9 s for 3 M
   * sites; docs/benchmarks.md, round twenty-two). The sites are sorted by the top bits of their new home (a
   * counting sort into 2^REHASH_BUCKET_BITS regions, each a few KiB of the new index) into a scratch array of a
   * (home, slot value) pair per site, garbage after this; then each region's sites are put in while it is in the
   * cache. Any order of insertion gives a valid index (linear probing without removals): the ids it finds are the
   * same. The sites are those of the keys that `first` does not hold (read in id order, as the keys are).
   */
  private rehash(size: number): void {
    const n = this.count;
    const indexed = this.indexed;
    const cap = overLoad(indexed, size) ? size * 2 : size;
    if (n > this.idMask) {
      this.tagShift = NO_TAGS;
      this.idMask = 0x7fffffff;
    }
    const tagShift = this.tagShift;
    const mask = cap - 1;
    const values = this.values;
    const first = this.first;
    const bits = 31 - Math.clz32(cap);
    const shift = bits > REHASH_BUCKET_BITS ? bits - REHASH_BUCKET_BITS : 0;
    const starts = REHASH_STARTS;
    const buckets = cap >>> shift;
    starts.fill(0, 0, buckets + 1);
    for (let id = 0; id < n; id++) {
      const base = id * 3;
      const a = values[base]!;
      if (a >= 0 && a < FIRST_LIMIT && first[a] === id + 1) continue;
      const home = hashTriple(a, values[base + 1]!, values[base + 2]!) & mask;
      const b = (home >>> shift) + 1;
      starts[b] = starts[b]! + 1;
    }
    for (let b = 0; b < buckets; b++) starts[b + 1] = starts[b + 1]! + starts[b]!;
    this.slots = NO_SLOTS; // the old index is garbage from here (no more than one index and the scratch at once)
    const scratch = new Int32Array(indexed * 2);
    for (let id = 0; id < n; id++) {
      const base = id * 3;
      const a = values[base]!;
      if (a >= 0 && a < FIRST_LIMIT && first[a] === id + 1) continue;
      const h = hashTriple(a, values[base + 1]!, values[base + 2]!);
      const home = h & mask;
      const b = home >>> shift;
      const at = starts[b]! * 2;
      starts[b] = starts[b]! + 1;
      scratch[at] = home;
      scratch[at + 1] = id | slotTag(h, tagShift);
    }
    const slots = new Int32Array(cap).fill(-1);
    for (let i = 0; i < indexed * 2; i += 2) {
      let slot = scratch[i]!;
      while (slots[slot] !== -1) slot = (slot + 1) & mask;
      slots[slot] = scratch[i + 1]!;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/**
 * A site's thread and allocator in one Int32 entry, thread << ALLOCATOR_BITS | allocator, when the thread is below
 * THREAD_LIMIT and the allocator below ALLOCATOR_LIMIT, neither negative (a packed entry is never negative: -1 - id is a
 * wide pair's) (every capture seen: a few threads, allocators below 16);
 * other pairs go to SiteKeys' `wide` table and their entry is -1 - their id there, so each pair has one entry and
 * the keys stay distinct. 12 bytes a site rather than 16: call_sites' 2.62 M sites, 10 MiB less through the read,
 * whose plateau is summary's and verdict's peak (docs/benchmarks.md, round twenty-six).
 */
const ALLOCATOR_BITS = 8;
const ALLOCATOR_LIMIT = 1 << ALLOCATOR_BITS;
const THREAD_LIMIT = 1 << 23;

/** A dropped index (SiteKeys.dropIndex()): typed arrays still, so that the fields keep one type for V8. */
const NO_SLOTS = new Int32Array(0);
const NO_FIRST = new Int32Array(0);

/**
 * SiteKeys' first sites by Python node cover the nodes below this (256 MiB at most, for a capture of 2^26 nodes,
 * whose keys alone are 768 MiB); a site of a node past it is in the index.
 */
const FIRST_LIMIT = 1 << 26;

/** rehash()'s regions: 2^12 of them, their counts 16 KiB, each region of a 32 MiB index 8 KiB. */
const REHASH_BUCKET_BITS = 12;
const REHASH_STARTS = new Int32Array((1 << REHASH_BUCKET_BITS) + 1);

const MIN_CAPACITY = 4096;
/** The most sites a table makes room for at once (32 MiB a column): past it, the columns double as they fill. */
const MAX_INITIAL_CAPACITY = 1 << 22;
/**
 * The sites past which a table grows to its room at once (SiteTable's `capacity`) rather than doubling. Below it
 * the table doubles from 4096: room made up front for a capture of few sites cost churn 2.3-2.6 MB of peak
 * (V8 counts the untouched arrays as external memory and collects differently; docs/benchmarks.md, round
 * twenty-one), and a doubling up to here copies at most 8 MiB a column.
 */
export const ROOM_FROM_SITES = 1 << 20;

/**
 * The sites to make room for at once (SiteTable's `capacity`) for a capture file of `fileBytes` bytes: one per 32
 * bytes, the densest of the benchmark's captures (call_sites: ~3 M sites in 88 MB, 29 bytes a site). A table
 * that grows doubles its columns, each copied while the old one waits for a collection: on call_sites the
 * doubling from 2 M to 4 M sites was summary's peak, seven 16 MiB columns twice over (docs/benchmarks.md,
 * round twenty-one). The room is made once the table passes ROOM_FROM_SITES; the part a capture does not use
 * stays untouched (no resident memory).
 */
export function siteCapacityFor(fileBytes: number): number {
  return Math.min(MAX_INITIAL_CAPACITY, Math.max(MIN_CAPACITY, Math.floor(fileBytes / 32)));
}

export class SiteTable implements ReadonlySiteTable {
  private readonly keys: SiteKeys;
  readonly columns: SiteColumns;
  /** The values at the peak (site-peaks.ts): none until a totals() sets them (setPeaks()). */
  private peaks: SitePeaks;
  /** seal() gave up the keys' index; intern() makes it again. */
  private sealed: boolean;

  /** Sites the columns hold (a power of two). */
  private length: number;
  /** Sites the table grows to at once past roomFrom (a power of two). */
  readonly room: number;
  private readonly roomFrom: number;

  /**
   * `capacity`: the sites to make room for (rounded up to a power of two; see siteCapacityFor()). The table
   * doubles from 4096 sites up to `roomFrom` (ROOM_FROM_SITES), then grows to the room at once: on call_sites
   * the doubling from 2 M to 4 M sites was summary's peak, seven 16 MiB columns copied while the old ones wait
   * for a collection (docs/benchmarks.md, round twenty-one). Room not used yet costs address space only: a new
   * typed array's pages are untouched zeros until written.
   */
  constructor(from?: SiteTable, capacity = MIN_CAPACITY, roomFrom = ROOM_FROM_SITES) {
    let cap = MIN_CAPACITY;
    while (cap < capacity) cap *= 2;
    const cols = {} as Record<SiteColumnName, SiteColumn | CountColumn>;
    for (const name of SITE_COLUMNS) {
      cols[name] =
        from !== undefined ? from.columns[name].clone() : COUNTS.has(name) ? new CountColumn(MIN_CAPACITY) : ON_DEMAND.has(name) ? new OnDemandColumn(MIN_CAPACITY) : new SiteColumn(MIN_CAPACITY);
    }
    this.columns = cols as unknown as SiteColumns;
    this.peaks = from?.peaks ?? SitePeaks.none();
    this.sealed = from?.sealed ?? false;
    this.length = from?.length ?? MIN_CAPACITY;
    this.room = from?.room ?? cap;
    this.roomFrom = from?.roomFrom ?? roomFrom;
    this.keys = new SiteKeys(MIN_CAPACITY, from?.keys, this.room, this.roomFrom);
  }

  /** Columns for `n` sites: doubled, or the room at once past roomFrom. */
  private grow(n: number): void {
    const to = n > this.roomFrom && this.room >= n ? this.room : n;
    for (const name of SITE_COLUMNS) this.columns[name].ensure(to);
    while (this.length < to) this.length *= 2;
  }

  /** An independent copy: the same sites and column values (a model of the middle of a stream). */
  clone(): SiteTable {
    return new SiteTable(this);
  }

  get size(): number {
    return this.keys.count;
  }

  /** The count columns are in Int32 (countsInInt32()). */
  get countsAreInt32(): boolean {
    return this.columns.totalCount.isInt32;
  }

  /**
   * The count columns in Int32 (CountColumn), their values kept: the replay's, for an unsampled event
   * capture, before its first site; it widens them again (widenCounts()) before a count could pass 2^31 - 1.
   */
  countsInInt32(): void {
    for (const name of COUNT_COLUMNS) this.columns[name].toInt32();
  }

  /** The count columns in Float64 again, their values kept. */
  widenCounts(): void {
    for (const name of COUNT_COLUMNS) this.columns[name].toFloat64();
  }

  get peak(): SitePeaks {
    return this.peaks;
  }

  /** The values at the peak (HeapReplay's or the checkpoints' totals()). */
  setPeaks(peaks: SitePeaks): void {
    this.peaks = peaks;
  }

  /**
   * The read is over (ModelBuilder.finish()): the keys' index, which only interning reads, is given up, so that a
   * report's work after the read has its memory (call_sites: ~2.6 M sites, an index of 4 M slots, 16 MiB; the
   * reports' peak comes after the read: docs/benchmarks.md, round twenty-three). The ids, keys and columns stay.
   * intern() after it makes the index again.
   * Returns the bytes given up.
   */
  seal(): number {
    if (this.sealed) return 0;
    const bytes = this.keys.indexBytes;
    this.sealed = true;
    this.keys.dropIndex();
    return bytes;
  }

  private unseal(): void {
    this.sealed = false;
    this.keys.rebuildIndex();
  }

  intern(pyStack: PyNodeId1, nativeStack: NativeNodeId1, thread: ThreadIndex, allocator: number): SiteId {
    if (this.sealed) this.unseal();
    const before = this.keys.count;
    const id = this.keys.intern(pyStack, nativeStack, thread, allocator);
    if (this.keys.count !== before && id >= this.length) this.grow(id + 1);
    return id as SiteId;
  }

  pyStack(site: SiteId): PyNodeId1 {
    return this.keys.get(site, 0) as PyNodeId1;
  }
  nativeStack(site: SiteId): NativeNodeId1 {
    return this.keys.get(site, 1) as NativeNodeId1;
  }
  thread(site: SiteId): ThreadIndex {
    return this.keys.get(site, 2) as ThreadIndex;
  }
  allocator(site: SiteId): number {
    return this.keys.get(site, 3);
  }

  get byteLength(): number {
    let n = this.keys.byteLength + this.peaks.byteLength;
    for (const name of SITE_COLUMNS) n += this.columns[name].byteLength;
    return n;
  }
}
