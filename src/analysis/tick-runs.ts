// Ticks and runs: the shape of the data behind the HTML report's time windows (peak-timeline.ts,
// leak-timeline.ts). The run is cut into ticks at memory snapshots; a run is one site's value over a
// range of ticks [start, end), so the data grows with the changes, not with sites × ticks.

/** Per-site values over ranges of ticks, column-wise. */
export interface TickRuns {
  /** ns since start at which each tick ends. */
  readonly tickEnd: Float64Array;
  /** Snapshot intervals per tick (1 unless the ticks were coarsened). */
  readonly snapshotsPerTick: number;
  /** Runs: site, ticks [start, end), bytes and count (what they mean: the analysis that made them). */
  readonly site: Int32Array;
  readonly start: Int32Array;
  readonly end: Int32Array;
  readonly bytes: Float64Array;
  readonly count: Float64Array;
}

/** The runs of a TickRuns as they are collected: typed arrays that grow by doubling. */
export class Runs {
  site: Int32Array = new Int32Array(1024);
  start: Int32Array = new Int32Array(1024);
  end: Int32Array = new Int32Array(1024);
  bytes: Float64Array = new Float64Array(1024);
  count: Float64Array = new Float64Array(1024);
  n = 0;

  push(site: number, start: number, end: number, bytes: number, count: number): void {
    if (this.n === this.site.length) {
      const cap = this.n * 2;
      const grow = <T extends Int32Array | Float64Array>(a: T, make: (n: number) => T): T => {
        const b = make(cap);
        b.set(a);
        return b;
      };
      this.site = grow(this.site, (k) => new Int32Array(k));
      this.start = grow(this.start, (k) => new Int32Array(k));
      this.end = grow(this.end, (k) => new Int32Array(k));
      this.bytes = grow(this.bytes, (k) => new Float64Array(k));
      this.count = grow(this.count, (k) => new Float64Array(k));
    }
    const i = this.n++;
    this.site[i] = site;
    this.start[i] = start;
    this.end[i] = end;
    this.bytes[i] = bytes;
    this.count[i] = count;
  }

  /**
   * Maps every run's ticks [start, end) through `tick` (to coarser ticks) and drops the runs
   * left empty.
   */
  remapTicks(tick: (t: number) => number): void {
    let w = 0;
    for (let i = 0; i < this.n; i++) {
      const s = tick(this.start[i]!);
      const e = tick(this.end[i]!);
      if (s >= e) continue;
      this.site[w] = this.site[i]!;
      this.start[w] = s;
      this.end[w] = e;
      this.bytes[w] = this.bytes[i]!;
      this.count[w] = this.count[i]!;
      w++;
    }
    this.n = w;
  }

  /** The runs collected, in arrays of their exact length. */
  columns(): Pick<TickRuns, 'site' | 'start' | 'end' | 'bytes' | 'count'> {
    return {
      site: this.site.slice(0, this.n),
      start: this.start.slice(0, this.n),
      end: this.end.slice(0, this.n),
      bytes: this.bytes.slice(0, this.n),
      count: this.count.slice(0, this.n),
    };
  }
}
