// Numbers per site kept only for the sites where one of them is not 0: an open-addressing table (linear
// probing, at most half full) whose size follows the sites held now, not every site the capture has or
// ever had. The observers' per-site state that most sites of a big capture never need: LiveSeries' open
// runs (a start tick and two values, for the sites whose run is not at 0: 571 of call_sites' 2.62 M at the
// end, where three columns of every site were 48 MiB) and RecentGrowth's baseline (5.2 k sites not at 0
// in 2 × 4154 pages of 512 sites, 32 MiB: a page made by a site stayed when the site went back to 0;
// docs/benchmarks.md, round twenty-seven).
//
// A held site costs 4 + 8 × width bytes a slot, two to four slots (a column of every site costs 4 to 8 ×
// width bytes a site): the table pays when fewer than about a sixth of the sites are held at once.

/** The values read only. */
export interface ReadonlySiteValues {
  /** The value of `site`; 0 when never set. */
  get(site: number): number;
}

const EMPTY = -1;
const MIN_BITS = 4;

export class SiteHash implements ReadonlySiteValues {
  /** The site of each slot, EMPTY if none. */
  private keys: Int32Array;
  /** `width` values a slot, side by side (one cache line for a slot's key's values). */
  private vals: Float64Array;
  /** 32 − log2(slots): the hash's top bits are the home slot. */
  private shift: number;
  private n = 0;

  /** `width`: values per site (LiveSeries: 3). */
  constructor(readonly width = 1) {
    this.keys = new Int32Array(1 << MIN_BITS).fill(EMPTY);
    this.vals = new Float64Array((1 << MIN_BITS) * width);
    this.shift = 32 - MIN_BITS;
  }

  /** Sites in the table. */
  get size(): number {
    return this.n;
  }

  /** Slots (for slotSite()): a slot index is below this. */
  get slots(): number {
    return this.keys.length;
  }

  /** The site in `slot`, or -1. */
  slotSite(slot: number): number {
    return this.keys[slot]!;
  }

  /** The slot of `site`, or -1. */
  find(site: number): number {
    const keys = this.keys;
    const mask = keys.length - 1;
    let i = Math.imul(site, 0x9e3779b1) >>> this.shift;
    for (;;) {
      const k = keys[i]!;
      if (k === site) return i;
      if (k === EMPTY) return -1;
      i = (i + 1) & mask;
    }
  }

  /** The slot of `site`, made with its values at 0 if it has none. Slots move when the table grows. */
  insert(site: number): number {
    const found = this.find(site);
    return found >= 0 ? found : this.insertAbsent(site);
  }

  /** insert() of a site known to have no slot (LiveSeries knows it from its marks): one probe less. */
  insertAbsent(site: number): number {
    if ((this.n + 1) * 2 > this.keys.length) this.resize(this.keys.length * 2);
    const keys = this.keys;
    const mask = keys.length - 1;
    let i = Math.imul(site, 0x9e3779b1) >>> this.shift;
    while (keys[i] !== EMPTY) i = (i + 1) & mask;
    keys[i] = site;
    this.n++;
    return i;
  }

  /** `site` leaves the table (its values read 0 after). Other slots may move. */
  remove(site: number): void {
    const slot = this.find(site);
    if (slot >= 0) this.removeAt(slot);
  }

  /** remove() of the site in `slot` (from find()). */
  removeAt(slot: number): void {
    let i = slot;
    const keys = this.keys;
    const vals = this.vals;
    const w = this.width;
    const mask = keys.length - 1;
    // Backward shift: each later slot of the cluster whose home is not in (i, j] moves into the hole.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const k = keys[j]!;
      if (k === EMPTY) break;
      const home = Math.imul(k, 0x9e3779b1) >>> this.shift;
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      keys[i] = k;
      for (let c = 0; c < w; c++) vals[i * w + c] = vals[j * w + c]!;
      i = j;
    }
    keys[i] = EMPTY;
    for (let c = 0; c < w; c++) vals[i * w + c] = 0;
    this.n--;
  }

  /** Value `c` of the site in `slot`. */
  value(slot: number, c: number): number {
    return this.vals[slot * this.width + c]!;
  }

  setValue(slot: number, c: number, v: number): void {
    this.vals[slot * this.width + c] = v;
  }

  /** Value 0 of `site`; 0 when it has none. */
  get(site: number): number {
    const slot = this.find(site);
    return slot < 0 ? 0 : this.vals[slot * this.width]!;
  }

  /** Value 0 of `site` (width 1: 0 takes it out of the table). */
  set(site: number, value: number): void {
    if (value === 0 && this.width === 1) this.remove(site);
    else this.setValue(this.insert(site), 0, value);
  }

  add(site: number, value: number): void {
    this.set(site, this.get(site) + value);
  }

  /** A copy. */
  clone(): SiteHash {
    const c = new SiteHash(this.width);
    c.keys = this.keys.slice();
    c.vals = this.vals.slice();
    c.shift = this.shift;
    c.n = this.n;
    return c;
  }

  /** Bytes of the table. */
  get byteLength(): number {
    return this.keys.byteLength + this.vals.byteLength;
  }

  private resize(slots: number): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    const w = this.width;
    this.keys = new Int32Array(slots).fill(EMPTY);
    this.vals = new Float64Array(slots * w);
    // An integer, as the constructor's (a float here would change the field's representation: a deopt).
    this.shift = Math.clz32(slots) + 1;
    const mask = slots - 1;
    for (let s = 0; s < oldKeys.length; s++) {
      const k = oldKeys[s]!;
      if (k === EMPTY) continue;
      let i = Math.imul(k, 0x9e3779b1) >>> this.shift;
      while (this.keys[i] !== EMPTY) i = (i + 1) & mask;
      this.keys[i] = k;
      for (let c = 0; c < w; c++) this.vals[i * w + c] = oldVals[s * w + c]!;
    }
  }
}
