// Allocation sites and what happened at each. A site is (Python stack, native stack, thread, allocator):
// the finest grain any report needs. Everything per site lives in parallel typed arrays indexed by site
// id, so memory grows with the number of distinct sites, never with the number of events.

import type { NativeNodeId1, PyNodeId1, SiteId, ThreadIndex } from './ids.js';
import { TupleInterner } from './tuple-interner.js';

/** A Float64Array its holder may read but not write (the model's columns, shared with the builder). */
export type ReadonlyFloat64Array = Readonly<Omit<Float64Array, 'copyWithin' | 'fill' | 'reverse' | 'set' | 'sort' | 'subarray'>>;

/** One per-site quantity; grows with the site table. */
export class SiteColumn {
  private data: Float64Array;
  constructor(initial: number | Float64Array) {
    this.data = typeof initial === 'number' ? new Float64Array(initial) : initial;
  }
  get array(): Float64Array {
    return this.data;
  }
  ensure(n: number): void {
    if (n <= this.data.length) return;
    let cap = this.data.length * 2;
    while (cap < n) cap *= 2;
    const grown = new Float64Array(cap);
    grown.set(this.data);
    this.data = grown;
  }
}

export const SITE_COLUMNS = ['totalCount', 'totalBytes', 'liveCount', 'liveBytes', 'peakCount', 'peakBytes', 'peakMark', 'tempCount', 'tempBytes', 'updatedSeq'] as const;
export type SiteColumnName = (typeof SITE_COLUMNS)[number];

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

export class SiteTable implements ReadonlySiteTable {
  private readonly keys: TupleInterner;
  readonly columns: Record<SiteColumnName, SiteColumn>;

  constructor(from?: SiteTable) {
    const cols = {} as Record<SiteColumnName, SiteColumn>;
    for (const name of SITE_COLUMNS) cols[name] = new SiteColumn(from === undefined ? 4096 : from.columns[name].array.slice());
    this.columns = cols;
    this.keys = from === undefined ? new TupleInterner(4, 4096) : from.keys.clone();
  }

  /** An independent copy: the same sites and column values (a model of the middle of a stream). */
  clone(): SiteTable {
    return new SiteTable(this);
  }

  get size(): number {
    return this.keys.size;
  }

  intern(pyStack: PyNodeId1, nativeStack: NativeNodeId1, thread: ThreadIndex, allocator: number): SiteId {
    const before = this.keys.size;
    const id = this.keys.intern(pyStack, nativeStack, thread, allocator);
    if (this.keys.size !== before) for (const name of SITE_COLUMNS) this.columns[name].ensure(id + 1);
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
    let n = this.keys.byteLength;
    for (const name of SITE_COLUMNS) n += this.columns[name].array.byteLength;
    return n;
  }
}
