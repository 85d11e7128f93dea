// Allocation sites and what happened at each. A site is (Python stack, native stack, thread, allocator):
// the finest grain any report needs. Everything per site lives in parallel typed arrays indexed by site
// id, so memory grows with the number of distinct sites, never with the number of events.

import type { NativeNodeId1, PyNodeId1, SiteId, ThreadIndex } from './ids.js';
import { hash4 } from './tuple-interner.js';

/** A Float64Array its holder may read but not write (the model's columns, shared with the builder). */
export type ReadonlyFloat64Array = Readonly<Omit<Float64Array, 'copyWithin' | 'fill' | 'reverse' | 'set' | 'sort' | 'subarray'>>;

/** One per-site quantity; grows with the site table. */
export class SiteColumn {
  protected data: Float64Array;
  constructor(initial: number | Float64Array) {
    this.data = typeof initial === 'number' ? float64Column(initial) : initial;
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
    const copy = float64Column(this.data.length);
    copy.set(this.data);
    return new SiteColumn(copy);
  }
  /**
   * Doubling, in place past IN_PLACE_FROM entries: no copy, nothing outgrown.
   */
  ensure(n: number): void {
    if (n <= this.data.length) return;
    let cap = this.data.length * 2;
    while (cap < n) cap *= 2;
    this.data = grownColumn(this.data, cap, float64Column);
  }
}

interface ResizableBuffer {
  readonly resizable: boolean;
  readonly maxByteLength: number;
  resize(byteLength: number): void;
}
type ResizableBufferConstructor = new (byteLength: number, options: { maxByteLength: number }) => ArrayBuffer;

/**
 * Past this many entries a column is on a resizable buffer and grows in place; below, a plain array grown by a
 * copy. An element access through a resizable buffer costs more in V8's optimized code (its length is loaded
 * each time): on accumulate's 4 k sites every column in place took ~8 % more CPU. A capture with over a million
 * sites pays it, and only from there, for no copy and no outgrown column at the doublings after (call_sites, 2 M
 * to 4 M: seven 16 MiB columns copied, the old ones left as garbage, summary's peak; docs/benchmarks.md, round
 * twenty-one).
 */
const IN_PLACE_FROM = 1 << 20;
/** How far a resizable column may grow in place, in entries: at least 2^24 (address space, not resident until used). */
const RESERVED_ENTRIES = 1 << 24;

function resizableBuffer(bytes: number, entryBytes: number): ArrayBuffer | undefined {
  try {
    return new (ArrayBuffer as unknown as ResizableBufferConstructor)(bytes, { maxByteLength: Math.max(RESERVED_ENTRIES * entryBytes, bytes * 16) });
  } catch {
    // No address space to reserve (a ulimit -v): a plain array, grown by copying.
    return undefined;
  }
}

/** A Float64Array of `length` zeros: on a resizable buffer past IN_PLACE_FROM entries, the array following its length. */
function float64Column(length: number): Float64Array {
  const buffer = length > IN_PLACE_FROM ? resizableBuffer(length * 8, 8) : undefined;
  return buffer === undefined ? new Float64Array(length) : new Float64Array(buffer);
}

/** float64Column() for 4-byte entries. */
function int32Column(length: number): Int32Array {
  const buffer = length > IN_PLACE_FROM ? resizableBuffer(length * 4, 4) : undefined;
  return buffer === undefined ? new Int32Array(length) : new Int32Array(buffer);
}

/** `arr` with `cap` entries, its contents kept: the same array when its buffer could grow to that. */
function grownColumn<T extends Float64Array | Int32Array>(arr: T, cap: number, make: (length: number) => T): T {
  const buffer = arr.buffer as unknown as ResizableBuffer;
  const bytes = cap * arr.BYTES_PER_ELEMENT;
  if (buffer.resizable && bytes <= buffer.maxByteLength) {
    buffer.resize(bytes);
    return arr;
  }
  const grown = make(cap);
  grown.set(arr);
  return grown;
}

/**
 * The replay's peak marks (heap-replay.ts: the epoch at which a site's peak columns were last saved), in 4 bytes
 * a site rather than a SiteColumn's 8: the replay keeps the epoch below 2^31 (it starts the marks over there).
 * Not one of the columns the model hands to analyses: only the replay reads it.
 */
export class MarkColumn {
  private data: Int32Array;
  constructor(from?: MarkColumn) {
    if (from === undefined) this.data = int32Column(4096);
    else {
      this.data = int32Column(from.data.length);
      this.data.set(from.data);
    }
  }
  get array(): Int32Array {
    return this.data;
  }
  get byteLength(): number {
    return this.data.byteLength;
  }
  /** Doubling, in place as SiteColumn's. */
  ensure(n: number): void {
    if (n <= this.data.length) return;
    let cap = this.data.length * 2;
    while (cap < n) cap *= 2;
    this.data = grownColumn(this.data, cap, int32Column);
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
    return this.wanted < 0 ? super.clone() : new OnDemandColumn(this.wanted);
  }
  override ensure(n: number): void {
    if (this.wanted < 0) super.ensure(n);
    else if (n > this.wanted) this.wanted = n;
  }
  /** The array, at the capacity the doublings from the table's first 4096 would have reached. */
  private make(): void {
    let cap = 4096;
    while (cap < this.wanted) cap *= 2;
    this.data = float64Column(cap);
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

export const SITE_COLUMNS = ['totalCount', 'totalBytes', 'liveCount', 'liveBytes', 'peakCount', 'peakBytes', 'tempCount', 'tempBytes', 'updatedSeq'] as const;
export type SiteColumnName = (typeof SITE_COLUMNS)[number];
/** Columns made only when read or written (SiteColumn): temporary allocations, and aggregated captures' updates. */
const ON_DEMAND: ReadonlySet<SiteColumnName> = new Set(['tempCount', 'tempBytes', 'updatedSeq']);

/** A SiteTable as the model hands it to analyses: reads only. */
export interface ReadonlySiteTable {
  readonly size: number;
  readonly columns: { readonly [K in SiteColumnName]: { readonly array: ReadonlyFloat64Array } };
  pyStack(site: SiteId): PyNodeId1;
  nativeStack(site: SiteId): NativeNodeId1;
  thread(site: SiteId): ThreadIndex;
  allocator(site: SiteId): number;
  /** Bytes held by the table (for the memory figures in benchmarks). */
  readonly byteLength: number;
}

/**
 * The sites' keys (Python node, native node, thread, allocator), interned into dense ids: a TupleInterner
 * of arity 4 in Int32Array rather than Float64Array, every component being below 2^31 (node ids count
 * nodes; thread indexes and allocators are small). 16 bytes a site rather than 32: call_sites at 5 % of
 * its size has 1.18 M sites, keys of 2 M, 32 MiB less (docs/benchmarks.md, round eighteen). A copy of
 * TupleInterner's code rather than an option of it: one array type per class keeps its hot loop's
 * element reads monomorphic.
 */
class SiteKeys {
  private values: Int32Array;
  private slots: Int32Array;
  private mask: number;
  count = 0;

  constructor(initialCapacity: number, from?: SiteKeys) {
    if (from !== undefined) {
      this.values = from.values.slice();
      this.slots = from.slots.slice();
      this.mask = from.mask;
      this.count = from.count;
      return;
    }
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.slots = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    this.values = new Int32Array(Math.max(16, initialCapacity) * 4);
  }

  intern(a: number, b: number, c: number, d: number): number {
    if (!(a <= 0x7fffffff && b <= 0x7fffffff && c <= 0x7fffffff && d <= 0x7fffffff)) throw new RangeError(`site key (${a}, ${b}, ${c}, ${d}) past 2^31`);
    const values = this.values;
    let slot = hash4(a, b, c, d) & this.mask;
    for (;;) {
      const id = this.slots[slot]!;
      if (id === -1) break;
      const base = id * 4;
      if (values[base] === a && values[base + 1] === b && values[base + 2] === c && values[base + 3] === d) return id;
      slot = (slot + 1) & this.mask;
    }
    const id = this.count++;
    if ((id + 1) * 4 > this.values.length) {
      const grown = new Int32Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    const base = id * 4;
    this.values[base] = a;
    this.values[base + 1] = b;
    this.values[base + 2] = c;
    this.values[base + 3] = d;
    this.slots[slot] = id;
    if (this.count * 2 > this.slots.length) this.rehash();
    return id;
  }

  get(id: number, k: number): number {
    return this.values[id * 4 + k]!;
  }

  get byteLength(): number {
    return this.values.byteLength + this.slots.byteLength;
  }

  private rehash(): void {
    const cap = this.slots.length * 2;
    const slots = new Int32Array(cap).fill(-1);
    const mask = cap - 1;
    const values = this.values;
    for (let id = 0; id < this.count; id++) {
      const base = id * 4;
      let slot = hash4(values[base]!, values[base + 1]!, values[base + 2]!, values[base + 3]!) & mask;
      while (slots[slot] !== -1) slot = (slot + 1) & mask;
      slots[slot] = id;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

export class SiteTable implements ReadonlySiteTable {
  private readonly keys: SiteKeys;
  readonly columns: Record<SiteColumnName, SiteColumn>;
  /** The replay's peak marks (MarkColumn). */
  readonly peakMarks: MarkColumn;

  constructor(from?: SiteTable) {
    const cols = {} as Record<SiteColumnName, SiteColumn>;
    for (const name of SITE_COLUMNS) cols[name] = from === undefined ? (ON_DEMAND.has(name) ? new OnDemandColumn(4096) : new SiteColumn(4096)) : from.columns[name].clone();
    this.columns = cols;
    this.peakMarks = new MarkColumn(from?.peakMarks);
    this.keys = new SiteKeys(4096, from?.keys);
  }

  /** An independent copy: the same sites and column values (a model of the middle of a stream). */
  clone(): SiteTable {
    return new SiteTable(this);
  }

  get size(): number {
    return this.keys.count;
  }

  intern(pyStack: PyNodeId1, nativeStack: NativeNodeId1, thread: ThreadIndex, allocator: number): SiteId {
    const before = this.keys.count;
    const id = this.keys.intern(pyStack, nativeStack, thread, allocator);
    if (this.keys.count !== before) {
      for (const name of SITE_COLUMNS) this.columns[name].ensure(id + 1);
      this.peakMarks.ensure(id + 1);
    }
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
    let n = this.keys.byteLength + this.peakMarks.byteLength;
    for (const name of SITE_COLUMNS) n += this.columns[name].byteLength;
    return n;
  }
}
