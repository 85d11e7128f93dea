// Numbers per site kept only for the sites where one of them is not 0: an open-addressing table (linear
// probing, at most half full) whose size follows the sites held now, not every site the capture has or
// ever had. The observers' per-site state that most sites of a big capture never need: LiveSeries' open
// runs (a start tick and two values, for the sites whose run is not at 0: 571 of call_sites' 2.62 M at the
// end, where three columns of every site were 48 MiB) and RecentGrowth's baseline (5.2 k sites not at 0
// in 2 × 4154 pages of 512 sites, 32 MiB: a page made by a site stayed when the site went back to 0;
// docs/benchmarks.md, round twenty-seven).
//
// A held site costs 4 + 8 × width bytes a slot, two to four slots (a column of every site costs 4 to 8 ×
// width bytes a site): the table pays when fewer than about a sixth of the sites are held at once. When
// most sites are held at once (a recursive parser's tree: every node from a stack of its own, all alive),
// the table would cost several times the columns; so each time it needs more room it takes the smaller of
// the two layouts for what it holds: the table, or dense columns of the sites up to the highest one it was
// given (4 bytes a value, as Int32 with the others in a map, and a byte a site for "has an entry": 13 bytes
// a site at width 3 where the table has 56 to 112 a held site). Dense columns go back to a table when the
// sites held fall so low that a table of them (at most 4 slots a site) would be a quarter of the columns or
// less (round twenty-eight): a dense phase then a sparse end (a tree built then freed) no longer keeps
// columns of every site to the end. The gap between the two thresholds (a table turns dense only once it
// would be bigger than the columns) keeps the layout from flipping back and forth: each relayout, O(room),
// follows Θ(room) inserts or removals. A table likewise shrinks (to a quarter full) once a sixteenth full
// (docs/benchmarks.md, round twenty-seven, "The dense case"; round twenty-eight, "SiteHash back to a table").

/** The values read only. */
export interface ReadonlySiteValues {
  /** The value of `site`; 0 when never set. */
  get(site: number): number;
}

const EMPTY = -1;
const MIN_BITS = 4;
/** A dense value kept in `wide` (not a 32-bit integer, or this one). */
const WIDE = -0x80000000;

/** Slots of a table holding `n` sites at most half full (a power of 2, at least 2^MIN_BITS). */
function slotsFor(n: number): number {
  let slots = 1 << MIN_BITS;
  while (n * 2 > slots) slots *= 2;
  return slots;
}

/** Room of dense columns for sites below `n` (a power of 2, at least 2^MIN_BITS, as the table's slots). */
function roomFor(n: number): number {
  let room = 1 << MIN_BITS;
  while (room < n) room *= 2;
  return room;
}

export class SiteHash implements ReadonlySiteValues {
  /** Dense columns rather than the table (below): a slot is then its site. */
  private dense = false;
  /** The site of each slot, EMPTY if none (empty when dense). */
  private keys: Int32Array;
  /** `width` values a slot, side by side (one cache line for a slot's key's values; empty when dense). */
  private vals: Float64Array;
  /** 32 − log2(slots): the hash's top bits are the home slot. */
  private shift: number;
  /** Dense: `width` values a site, side by side, WIDE for a value in `wide` (keyed by its index here). */
  private dvals = new Int32Array(0);
  /** Dense: 1 for a site with an entry. */
  private present = new Uint8Array(0);
  private wide = new Map<number, number>();
  private n = 0;
  /** The highest site ever given (the dense columns' extent). */
  private maxSite = 0;
  /** Fewer sites held than this, and the dense columns or the table go back to a smaller table (0: never; see the top). */
  private shrinkBelow = 0;

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
    return this.dense ? this.present.length : this.keys.length;
  }

  /** The site in `slot`, or -1. */
  slotSite(slot: number): number {
    if (this.dense) return this.present[slot] !== 0 ? slot : EMPTY;
    return this.keys[slot]!;
  }

  /** The slot of `site`, or -1. */
  find(site: number): number {
    if (this.dense) return site < this.present.length && this.present[site] !== 0 ? site : -1;
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
    if (site > this.maxSite) this.maxSite = site;
    if (this.dense ? site >= this.present.length : (this.n + 1) * 2 > this.keys.length) this.relayout();
    if (this.dense) {
      this.present[site] = 1;
      this.n++;
      return site;
    }
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
    const w = this.width;
    if (this.dense) {
      for (let c = 0; c < w; c++) this.setValue(slot, c, 0);
      this.present[slot] = 0;
      if (--this.n < this.shrinkBelow) this.relayout(true);
      return;
    }
    let i = slot;
    const keys = this.keys;
    const vals = this.vals;
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
    if (--this.n < this.shrinkBelow) this.relayout(true);
  }

  /** Value `c` of the site in `slot`. */
  value(slot: number, c: number): number {
    const at = slot * this.width + c;
    if (!this.dense) return this.vals[at]!;
    const v = this.dvals[at]!;
    return v !== WIDE ? v : this.wide.get(at)!;
  }

  setValue(slot: number, c: number, v: number): void {
    const at = slot * this.width + c;
    if (!this.dense) {
      this.vals[at] = v;
      return;
    }
    // As the columns of every site before round twenty-seven (Int32Column): -0 is kept as 0.
    if ((v | 0) === v && v !== WIDE) {
      if (this.dvals[at] === WIDE) this.wide.delete(at);
      this.dvals[at] = v;
    } else {
      this.dvals[at] = WIDE;
      this.wide.set(at, v);
    }
  }

  /** Value 0 of `site`; 0 when it has none. */
  get(site: number): number {
    if (this.dense) return site < this.present.length ? this.value(site, 0) : 0;
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
    c.dense = this.dense;
    c.keys = this.keys.slice();
    c.vals = this.vals.slice();
    c.shift = this.shift;
    c.dvals = this.dvals.slice();
    c.present = this.present.slice();
    c.wide = new Map(this.wide);
    c.n = this.n;
    c.maxSite = this.maxSite;
    c.shrinkBelow = this.shrinkBelow;
    return c;
  }

  /** Bytes of the table (or of the dense columns; 16 a value kept wide, a guess at the map's). */
  get byteLength(): number {
    return this.keys.byteLength + this.vals.byteLength + this.dvals.byteLength + this.present.byteLength + 16 * this.wide.size;
  }

  /**
   * Room for one site more (the highest given is `maxSite`): the smaller of a table and dense columns. With
   * `toTable`, a table of what is held (dense columns that hold too few: removeAt()).
   */
  private relayout(toTable = false): void {
    const w = this.width;
    // Shrinking, a table a quarter full: as many removals or inserts again before the next relayout.
    const slots = slotsFor(toTable ? 2 * this.n + 1 : this.n + 1);
    const room = roomFor(this.maxSite + 1);
    const denseBytes = room * (4 * w + 1);
    const toDense = !toTable && denseBytes < slots * (4 + 8 * w);
    // Dense columns go back to a table below `shrinkBelow` sites held: a table of 4 slots a site (at least 16)
    // is then a quarter of the columns at most; a table shrinks below a sixteenth full (0: never).
    const below = toDense ? Math.floor(denseBytes / (16 * (4 + 8 * w))) : slots / 16;
    this.shrinkBelow = below >= 4 ? below : 0;
    const old = this.dense ? null : { keys: this.keys, vals: this.vals };
    const oldDense = this.dense ? { vals: this.dvals, present: this.present, wide: this.wide } : null;
    if (toDense) {
      this.dense = true;
      this.keys = new Int32Array(0);
      this.vals = new Float64Array(0);
      this.dvals = new Int32Array(room * w);
      this.present = new Uint8Array(room);
      this.wide = new Map();
    } else {
      this.dense = false;
      this.keys = new Int32Array(slots).fill(EMPTY);
      this.vals = new Float64Array(slots * w);
      // An integer, as the constructor's (a float here would change the field's representation: a deopt).
      this.shift = Math.clz32(slots) + 1;
      this.dvals = new Int32Array(0);
      this.present = new Uint8Array(0);
      this.wide = new Map();
    }
    // Every entry again, into the new layout (n counts them again).
    this.n = 0;
    if (old !== null) {
      for (let s = 0; s < old.keys.length; s++) {
        const k = old.keys[s]!;
        if (k !== EMPTY) this.moveIn(k, (c) => old.vals[s * w + c]!);
      }
    }
    if (oldDense !== null) {
      for (let s = 0; s < oldDense.present.length; s++) {
        if (oldDense.present[s] === 0) continue;
        this.moveIn(s, (c) => {
          const v = oldDense.vals[s * w + c]!;
          return v !== WIDE ? v : oldDense.wide.get(s * w + c)!;
        });
      }
    }
  }

  /** A site of the old layout into the new one, which has room for it. */
  private moveIn(site: number, valueOf: (c: number) => number): void {
    const w = this.width;
    let slot: number;
    if (this.dense) {
      this.present[site] = 1;
      slot = site;
    } else {
      const keys = this.keys;
      const mask = keys.length - 1;
      slot = Math.imul(site, 0x9e3779b1) >>> this.shift;
      while (keys[slot] !== EMPTY) slot = (slot + 1) & mask;
      keys[slot] = site;
    }
    this.n++;
    for (let c = 0; c < w; c++) this.setValue(slot, c, valueOf(c));
  }
}
