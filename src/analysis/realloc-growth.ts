// Blocks grown by realloc, per site: the evidence behind the "repeated growth of a collection" finding. A
// realloc is FREE(old) then ALLOC(new) from the same thread (capture-format.md), so an allocation that
// follows, on its thread, a free of fewer bytes is a growth when the site's allocator is a realloc
// (findings/collection-growth.ts keeps those sites). A list growing by appends, a bytearray or bytes
// growing by +=, a dict being filled: each growth copies the old block.

import { Allocator } from '../capture/format.js';
import type { SiteId, ThreadIndex } from '../model/ids.js';
import type { ReplayContext, ReplayObserver } from '../model/replay-observer.js';
import { type ReadonlySiteTable, grownTo, newFloat64Array } from '../model/site-table.js';

/** The allocators whose growths count (findings/collection-growth.ts): those that reallocate. */
export const REALLOCATORS: ReadonlySet<number> = new Set<number>([Allocator.Realloc, Allocator.PymallocRealloc, Allocator.Reallocarray, Allocator.Mremap]);
/** REALLOCATORS as bits (allocators are below 16): one test per growth rather than a Set lookup. */
const REALLOCATOR_BITS = [...REALLOCATORS].reduce((m, a) => m | (1 << a), 0);

/** True for an allocator of REALLOCATORS. */
export function isReallocator(allocator: number): boolean {
  return allocator >= 0 && allocator < 32 && ((REALLOCATOR_BITS >>> allocator) & 1) === 1;
}

/**
 * The sites with at least one growth, in ascending order, and per site (same index): the allocations that
 * followed a smaller free on their thread, the bytes of the blocks they replaced (what the growths copied,
 * at most), and the largest block a growth made.
 */
export interface ReallocGrowthResult {
  readonly sites: Int32Array;
  readonly growths: Float64Array;
  readonly copiedBytes: Float64Array;
  readonly maxBytes: Float64Array;
}

/**
 * Per site with a growth rather than per site: three Float64 columns as long as the site table were 24
 * bytes a site, for the few sites with a growth (call_sites at 5 % of its size: 57 k of 1.18 M sites, 48 MiB
 * of columns and 72 while they doubled; docs/benchmarks.md, round twenty). A hash of site to entry
 * (open addressing), the entries in columns.
 * Once begin() gives the site table, only growths at sites of REALLOCATORS are kept (the only ones the
 * finding reads): call_sites has 1.18 M allocations after a smaller free on their thread, at 128 k sites;
 * 804 k of them at 87 k sites of a reallocating allocator (docs/benchmarks.md, round twenty-one).
 */
export class ReallocGrowth implements ReplayObserver {
  /** Reads no index. */
  readonly indexesFrom = Infinity;
  /** Per thread index: bytes of the last free if no allocation followed it yet, else -1. */
  private pending = new Float64Array(64).fill(-1);
  private slots = new Int32Array(1024).fill(-1);
  /**
   * The entries, ENTRY values each side by side: the site, its growths, the bytes copied and the largest block. One
   * line for a growth where four columns were four (call_sites: 804 k growths at 87 k entries, the entry of most
   * not the one before's; docs/benchmarks.md, round thirty-one).
   */
  private entries: Float64Array = new Float64Array(256 * ENTRY);
  private count = 0;
  private lastSite = -1;
  private lastEntry = -1;
  /** The replay's sites (begin()): only the growths of REALLOCATORS are kept; undefined (unit tests): every growth is. */
  private sites: ReadonlySiteTable | undefined;

  begin(context: ReplayContext): void {
    this.sites = context.sites;
  }

  /** `allocator`: the allocation's (its site's: the replay's argument, not a look-up of the site's keys). */
  change(site: SiteId, _seq: number, bytes: number, count: number, thread: ThreadIndex, _index: number, allocator: number): void {
    if (thread >= this.pending.length) {
      const p = new Float64Array(Math.max(thread + 1, this.pending.length * 2)).fill(-1);
      p.set(this.pending);
      this.pending = p;
    }
    if (count > 0) {
      // Once the sites are known (begin()) only the growths of REALLOCATORS are kept: the allocator is tested
      // first, and an allocation of another (call_sites: 93 % of them) reads no pending free and makes no call.
      if (this.sites === undefined || isReallocator(allocator)) {
        const old = this.pending[thread]!;
        if (old >= 0 && old < bytes) this.grown(site, old, bytes);
      }
      this.pending[thread] = -1;
    } else if (count < 0) {
      this.pending[thread] = -bytes;
    }
  }

  /**
   * A growth at `site`: a block of `old` bytes replaced by one of `bytes` (change() kept only those of REALLOCATORS
   * once the sites are known). The allocator from the replay, not `sites.allocator(site)`: a read of the site's
   * keys (a line of their own) for each of call_sites' 1.18 M allocations after a smaller free, a third of them of
   * no reallocator (docs/benchmarks.md, round thirty).
   */
  private grown(site: number, old: number, bytes: number): void {
    const x = this.entry(site) * ENTRY;
    const entries = this.entries;
    entries[x + GROWTHS] = entries[x + GROWTHS]! + 1;
    entries[x + COPIED] = entries[x + COPIED]! + old;
    if (bytes > entries[x + MAX]!) entries[x + MAX] = bytes;
  }

  /** The entry of `site`, made (zeroed) if it has none. */
  private entry(site: number): number {
    // A collection grows in a loop: most growths are at the site of the one before.
    const last = this.lastEntry;
    if (site === this.lastSite) return last;
    // Else, often, at the site of the entry made after the last one: the same calls run again, growing at the
    // same sites in the same order (call_sites: a list appended to at each level of a chain, each level a site
    // of its own), and their entries were made in that order. The slot a site hashes to was a cache miss a
    // growth (the table spreads neighbouring sites): 804 k of them on call_sites (docs/benchmarks.md, round
    // thirty). A site has one entry: the one that names it is its own.
    const next = last + 1;
    const e = next < this.count && this.entries[next * ENTRY + SITE] === site ? next : this.lookUp(site);
    this.lastSite = site;
    this.lastEntry = e;
    return e;
  }

  private lookUp(site: number): number {
    const mask = this.slots.length - 1;
    let slot = siteHash(site) & mask;
    for (;;) {
      const e = this.slots[slot]!;
      if (e === -1) break;
      if (this.entries[e * ENTRY + SITE] === site) return e;
      slot = (slot + 1) & mask;
    }
    const e = this.count++;
    if ((e + 1) * ENTRY > this.entries.length) this.entries = grownTo(this.entries, this.entries.length * 2, newFloat64Array);
    this.entries[e * ENTRY + SITE] = site;
    this.slots[slot] = e;
    if (this.count * 2 > this.slots.length) this.rehash();
    return e;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2).fill(-1);
    const mask = slots.length - 1;
    for (let e = 0; e < this.count; e++) {
      let slot = siteHash(this.entries[e * ENTRY + SITE]!) & mask;
      while (slots[slot] !== -1) slot = (slot + 1) & mask;
      slots[slot] = e;
    }
    this.slots = slots;
  }

  snapshot(): void {
    // Snapshots do not matter here.
  }

  /** Bytes held (for tests and the memory figures in benchmarks). */
  get byteLength(): number {
    return this.slots.byteLength + this.entries.byteLength;
  }

  finish(): ReallocGrowthResult {
    const n = this.count;
    const v = this.entries;
    const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => v[a * ENTRY + SITE]! - v[b * ENTRY + SITE]!);
    const sites = new Int32Array(n);
    const growths = new Float64Array(n);
    const copiedBytes = new Float64Array(n);
    const maxBytes = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const x = order[i]! * ENTRY;
      sites[i] = v[x + SITE]!;
      growths[i] = v[x + GROWTHS]!;
      copiedBytes[i] = v[x + COPIED]!;
      maxBytes[i] = v[x + MAX]!;
    }
    return { sites, growths, copiedBytes, maxBytes };
  }
}

/** An entry's values in `entries`: ENTRY a site, at these offsets. */
const ENTRY = 4;
const SITE = 0;
const GROWTHS = 1;
const COPIED = 2;
const MAX = 3;

function siteHash(site: number): number {
  const h = Math.imul(site, 0x9e3779b1);
  return h ^ (h >>> 15);
}
