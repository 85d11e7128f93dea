// Fills a ReportData: interns strings, frames and stack nodes, and accumulates per-location values.
// Used by report-data.ts (from a capture's analysis) and by the synthetic profiles of tests and benches.

import type { ReportData, ReportMeta, TemporalData } from './payload.js';

class Growable {
  data: Float64Array;
  length = 0;
  constructor(capacity = 1024) {
    this.data = new Float64Array(capacity);
  }
  push(v: number): number {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length] = v;
    return this.length++;
  }
  f64(): Float64Array {
    return this.data.slice(0, this.length);
  }
  i32(): Int32Array {
    return Int32Array.from(this.data.subarray(0, this.length));
  }
}

/** (a, b) → id for non-negative int32 pairs: open addressing, no Map of heap-number keys (5× faster). */
export class PairIndex {
  private a: Int32Array;
  private b: Int32Array;
  private id: Int32Array;
  private size = 0;

  /** `capacity`: slots at first, a power of two (a table of n pairs grows to 2n slots past n). */
  constructor(capacity = 1 << 12) {
    this.a = new Int32Array(capacity);
    this.b = new Int32Array(capacity);
    this.id = new Int32Array(capacity).fill(-1);
  }

  private slot(a: number, b: number): number {
    const mask = this.id.length - 1;
    let i = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b)) & mask;
    while (this.id[i] !== -1 && (this.a[i] !== a || this.b[i] !== b)) i = (i + 1) & mask;
    return i;
  }

  get(a: number, b: number): number {
    return this.id[this.slot(a, b)]!;
  }

  set(a: number, b: number, id: number): void {
    if ((this.size + 1) * 2 > this.id.length) this.grow();
    const i = this.slot(a, b);
    if (this.id[i] === -1) this.size++;
    this.a[i] = a;
    this.b[i] = b;
    this.id[i] = id;
  }

  /** The id of (a, b); or, when it has none, sets `id` for it and returns −1: one lookup instead of get and set. */
  getOrSet(a: number, b: number, id: number): number {
    if ((this.size + 1) * 2 > this.id.length) this.grow();
    const i = this.slot(a, b);
    const got = this.id[i]!;
    if (got !== -1) return got;
    this.size++;
    this.a[i] = a;
    this.b[i] = b;
    this.id[i] = id;
    return -1;
  }

  /** Twice the slots, the pairs put back in one pass (every pair is distinct: no lookup, no size check). */
  private grow(): void {
    const { a, b, id } = this;
    const cap = id.length * 2;
    const mask = cap - 1;
    const na = new Int32Array(cap);
    const nb = new Int32Array(cap);
    const nid = new Int32Array(cap).fill(-1);
    for (let k = 0; k < id.length; k++) {
      const v = id[k]!;
      if (v === -1) continue;
      const x = a[k]!;
      const y = b[k]!;
      let i = (Math.imul(x, 0x9e3779b1) ^ Math.imul(y + 0x7f4a7c15, 0x85ebca6b)) & mask;
      while (nid[i] !== -1) i = (i + 1) & mask;
      na[i] = x;
      nb[i] = y;
      nid[i] = v;
    }
    this.a = na;
    this.b = nb;
    this.id = nid;
  }
}

export class ReportDataBuilder {
  private readonly strings: string[] = [];
  private readonly stringIds = new Map<string, number>();
  private readonly frameIds = new Map<string, number>();
  private readonly frameCols = { name: new Growable(), file: new Growable(), line: new Growable(), source: new Growable(), flags: new Growable() };
  private readonly nodeIds = new PairIndex();
  private readonly nodeParent = new Growable();
  private readonly nodeFrame = new Growable();
  private readonly threadName = new Growable(16);
  private readonly threadTid = new Growable(16);
  // Keyed by strings, not by a PairIndex: its typed arrays (384 KiB for numpy_mix's 8.9 k locations, and
  // their grows) left the --no-temporal page's peak 0.3-0.7 MiB higher (docs/benchmarks.md, round twenty-three).
  private readonly locationIds = new Map<string, number>();
  private readonly loc = { node: new Growable(), thread: new Growable(), allocator: new Growable(), bytes: new Growable(), count: new Growable() };
  private readonly tl = { time: new Growable(), rss: new Growable(), rssAnon: new Growable(), rssFile: new Growable(), heap: new Growable(), cgroupUsage: new Growable() };
  private readonly mk = { time: new Growable(16), kind: new Growable(16), label: new Growable(16) };
  private temporal: TemporalData | null = null;

  constructor() {
    this.nodeParent.push(-1);
    this.nodeFrame.push(-1);
  }

  get frameCount(): number {
    return this.frameCols.name.length;
  }

  get nodeCount(): number {
    return this.nodeParent.length;
  }

  get locationCount(): number {
    return this.loc.node.length;
  }

  string(s: string): number {
    let id = this.stringIds.get(s);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(s);
      this.stringIds.set(s, id);
    }
    return id;
  }

  /** A distinct (function, file, line); `source` is the text of that line, when it could be read. */
  frame(name: string, file: string, line: number, flags: number, source: string | null = null): number {
    const key = `${name}\u0000${file}\u0000${line}\u0000${flags}`;
    let id = this.frameIds.get(key);
    if (id === undefined) {
      const c = this.frameCols;
      id = c.name.push(this.string(name));
      c.file.push(this.string(file));
      c.line.push(line);
      c.source.push(source === null ? -1 : this.string(source));
      c.flags.push(flags);
      this.frameIds.set(key, id);
    }
    return id;
  }

  /** A frame known to be distinct from every other (a model frame): no lookup. */
  uniqueFrame(name: string, file: string, line: number, flags: number, source: string | null = null): number {
    const c = this.frameCols;
    const id = c.name.push(this.string(name));
    c.file.push(this.string(file));
    c.line.push(line);
    c.source.push(source === null ? -1 : this.string(source));
    c.flags.push(flags);
    return id;
  }

  /** The stack node `frame` called from `parent` (0 = the root). */
  node(parent: number, frame: number): number {
    const next = this.nodeParent.length;
    const id = this.nodeIds.getOrSet(parent, frame, next);
    if (id !== -1) return id;
    this.nodeParent.push(parent);
    this.nodeFrame.push(frame);
    return next;
  }

  /** The node of a whole stack, root first. */
  stack(frames: readonly number[]): number {
    let n = 0;
    for (const f of frames) n = this.node(n, f);
    return n;
  }

  thread(name: string, tid: number): number {
    this.threadTid.push(tid);
    return this.threadName.push(this.string(name));
  }

  /** Adds bytes and count to the (node, thread, allocator) location; returns the location's index. */
  add(node: number, thread: number, allocator: string, bytes: number, count: number): number {
    const key = `${node}:${thread}:${allocator}`;
    let id = this.locationIds.get(key);
    if (id === undefined) {
      id = this.loc.node.push(node);
      this.loc.thread.push(thread);
      this.loc.allocator.push(this.string(allocator));
      this.loc.bytes.push(0);
      this.loc.count.push(0);
      this.locationIds.set(key, id);
    }
    this.loc.bytes.data[id]! += bytes;
    this.loc.count.data[id]! += count;
    return id;
  }

  snapshot(timeNs: number, rss: number, rssAnon: number, rssFile: number, heap: number, cgroupUsage?: number): void {
    this.tl.time.push(timeNs);
    this.tl.rss.push(rss);
    this.tl.rssAnon.push(rssAnon);
    this.tl.rssFile.push(rssFile);
    this.tl.heap.push(heap);
    if (cgroupUsage !== undefined) this.tl.cgroupUsage.push(cgroupUsage);
  }

  marker(timeNs: number, kind: string, label: string): void {
    this.mk.time.push(timeNs);
    this.mk.kind.push(this.string(kind));
    this.mk.label.push(this.string(label));
  }

  setTemporal(t: TemporalData | null): void {
    this.temporal = t;
  }

  build(meta: ReportMeta): ReportData {
    const c = this.frameCols;
    const cg = this.tl.cgroupUsage.length === this.tl.time.length ? this.tl.cgroupUsage.f64() : new Float64Array(0);
    return {
      meta,
      strings: this.strings,
      frames: { name: c.name.i32(), file: c.file.i32(), line: c.line.i32(), source: c.source.i32(), flags: c.flags.i32() },
      nodes: { parent: this.nodeParent.i32(), frame: this.nodeFrame.i32() },
      threads: { name: this.threadName.i32(), tid: this.threadTid.f64() },
      locations: {
        node: this.loc.node.i32(),
        thread: this.loc.thread.i32(),
        allocator: this.loc.allocator.i32(),
        bytes: this.loc.bytes.f64(),
        count: this.loc.count.f64(),
      },
      timeline: { time: this.tl.time.f64(), rss: this.tl.rss.f64(), rssAnon: this.tl.rssAnon.f64(), rssFile: this.tl.rssFile.f64(), heap: this.tl.heap.f64(), cgroupUsage: cg },
      markers: { time: this.mk.time.f64(), kind: this.mk.kind.i32(), label: this.mk.label.i32() },
      temporal: this.temporal,
    };
  }
}
