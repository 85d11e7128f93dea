// A number per site, 0 where never set, in pages of PAGE_SITES sites made at the first non-zero write into one:
// memory for the pages a report writes, not for every site of the capture. RecentGrowth's baseline and saved
// values are a few thousand sites of millions (call_sites: 8.7 k of 2.6 M sites non-zero in its baseline, 6.2 k
// saved, on 20 % of the 512-site pages), and as columns of every site (SiteColumn, doubling and copying) they
// were 155 MB of arrays held to the end of the verdict, most of it written by the copies (docs/benchmarks.md,
// round twenty-six).

/** Sites a page: 4 KiB of Float64. */
export const PAGE_SHIFT = 9;
const PAGE_SITES = 1 << PAGE_SHIFT;
const PAGE_MASK = PAGE_SITES - 1;

/** The values read only. */
export interface ReadonlySiteValues {
  /** The value of `site`; 0 when never set. */
  get(site: number): number;
}

export class SitePages implements ReadonlySiteValues {
  /** Page k holds sites k·PAGE_SITES to (k+1)·PAGE_SITES−1; undefined: all 0. Grown by push, never holey past its length. */
  private pages: (Float64Array | undefined)[] = [];

  get(site: number): number {
    const p = this.pages[site >>> PAGE_SHIFT];
    return p === undefined ? 0 : p[site & PAGE_MASK]!;
  }

  set(site: number, value: number): void {
    const k = site >>> PAGE_SHIFT;
    let p = this.pages[k];
    if (p === undefined) {
      if (value === 0) return;
      p = this.page(k);
    }
    p[site & PAGE_MASK] = value;
  }

  add(site: number, value: number): void {
    this.set(site, this.get(site) + value);
  }

  /** A copy (of the pages made). */
  clone(): SitePages {
    const c = new SitePages();
    c.pages = this.pages.map((p) => p?.slice());
    return c;
  }

  /** Bytes of the pages made. */
  get byteLength(): number {
    let n = 0;
    for (const p of this.pages) if (p !== undefined) n += p.byteLength;
    return n;
  }

  private page(k: number): Float64Array {
    // Pushed one by one rather than written past the end: a write far past an array's length makes V8 keep
    // it as a dictionary.
    while (this.pages.length <= k) this.pages.push(undefined);
    const p = new Float64Array(PAGE_SITES);
    this.pages[k] = p;
    return p;
  }
}
