// SeqOrderer: a CaptureVisitor adapter that hands records on in `seq` order across streams, using the
// BARRIER records of the service stream (docs/capture-format.md, "Streams and sequence numbers" and
// "Reading in seq order").
//
// The rule, exactly. Every record gets an order key (k, e) when it arrives, in file order:
//   - ALLOC and FREE: (seq, 1);
//   - records that carry a seq (SNAPSHOT, GC, FORK, IMAGE, IMAGE_UNLOAD, MARKER, BARRIER, CHECKPOINT,
//     TRAILER, CENSUS, PRESSURE): (seq, 0), so a record with seq S comes after every event with seq < S and before the event
//     with seq S;
//   - every other record: (−∞, 0);
// then the key is raised to at least the key of the previous record of the same stream (a stream's records
// keep their file order: a FRAME reaches the visitor before the ALLOC that uses it) and to at least the key
// of the last BARRIER before it in the file (what was released is never preceded by a later arrival).
// Records are delivered sorted by (k, e), ties in file order. A BARRIER releases every record whose
// (k, e, file position) is at most its own, the barrier included: by the barrier's promise no later event
// can sort before it. end() releases the rest.
//
// Without barriers (a writer that died before its first flush round, a capture made by a test) records
// wait in memory until end(); past `maxBuffered` records everything buffered is released early, in order,
// and the result is only as ordered as the file allows.
//
// Memory: events are kept in typed-array columns (about 60 bytes each, no object per event); each stream's
// records form a linked list through the columns, so the merge at a barrier is a k-way merge of runs that
// are already sorted. When a single stream has records, the merge is a walk of its list.

import type { CaptureHeader, CaptureVisitor, DecodeWarning, MetaRecord } from './records.js';

export interface OrdererOptions {
  /** Records buffered before they are released without a barrier (default 2^21). */
  readonly maxBuffered?: number;
}

const KIND_ALLOC = 0;
const KIND_FREE = 1;
const KIND_META = 2;

interface StreamRun {
  readonly id: number;
  head: number;
  tail: number;
  lastK: number;
  lastE: number;
}

export class SeqOrderer implements CaptureVisitor {
  private readonly down: CaptureVisitor;
  private readonly maxBuffered: number;
  private cap = 0;
  private n = 0;
  private kind: Uint8Array = new Uint8Array(0);
  private code: Uint8Array = new Uint8Array(0);
  private keyE: Uint8Array = new Uint8Array(0);
  private gone: Uint8Array = new Uint8Array(0);
  private stream = new Uint32Array(0);
  private next = new Int32Array(0);
  private keyK: Float64Array = new Float64Array(0);
  private seq: Float64Array = new Float64Array(0);
  private addr: Float64Array = new Float64Array(0);
  private size: Float64Array = new Float64Array(0);
  private stack: Float64Array = new Float64Array(0);
  private native: Float64Array = new Float64Array(0);
  private metas: (MetaRecord | undefined)[] = [];
  private readonly runs = new Map<number, StreamRun>();
  private last: StreamRun | undefined;
  private wmK = -Infinity;
  private wmE = 0;
  /** Records delivered so far. */
  delivered = 0;
  /** Records delivered since the last compact(). */
  private releasedNow = 0;

  constructor(downstream: CaptureVisitor, options: OrdererOptions = {}) {
    this.down = downstream;
    this.maxBuffered = Math.max(16, options.maxBuffered ?? 1 << 21);
    this.grow(1024);
  }

  header(h: CaptureHeader): void {
    this.down.header?.(h);
  }

  warning(w: DecodeWarning): void {
    this.down.warning?.(w);
  }

  private grow(min: number): void {
    let cap = Math.max(this.cap * 2, 1024);
    while (cap < min) cap *= 2;
    const u8 = (a: Uint8Array): Uint8Array => {
      const b = new Uint8Array(cap);
      b.set(a.subarray(0, this.n));
      return b;
    };
    const f64 = (a: Float64Array): Float64Array => {
      const b = new Float64Array(cap);
      b.set(a.subarray(0, this.n));
      return b;
    };
    this.kind = u8(this.kind);
    this.code = u8(this.code);
    this.keyE = u8(this.keyE);
    this.gone = u8(this.gone);
    const s = new Uint32Array(cap);
    s.set(this.stream.subarray(0, this.n));
    this.stream = s;
    const nx = new Int32Array(cap);
    nx.set(this.next.subarray(0, this.n));
    this.next = nx;
    this.keyK = f64(this.keyK);
    this.seq = f64(this.seq);
    this.addr = f64(this.addr);
    this.size = f64(this.size);
    this.stack = f64(this.stack);
    this.native = f64(this.native);
    this.cap = cap;
  }

  private run(stream: number): StreamRun {
    const l = this.last;
    if (l !== undefined && l.id === stream) return l;
    let r = this.runs.get(stream);
    if (r === undefined) {
      r = { id: stream, head: -1, tail: -1, lastK: -Infinity, lastE: 0 };
      this.runs.set(stream, r);
    }
    this.last = r;
    return r;
  }

  /** Appends an item with natural key (k, e) to its stream's run; returns its index. */
  private push(stream: number, kind: number, k: number, e: number): number {
    if (this.n === this.cap) this.grow(this.n + 1);
    const r = this.run(stream);
    // Raise to the stream's previous key and to the watermark of the last barrier.
    if (k < r.lastK || (k === r.lastK && e < r.lastE)) {
      k = r.lastK;
      e = r.lastE;
    }
    if (k < this.wmK || (k === this.wmK && e < this.wmE)) {
      k = this.wmK;
      e = this.wmE;
    }
    r.lastK = k;
    r.lastE = e;
    const i = this.n++;
    this.kind[i] = kind;
    this.stream[i] = stream;
    this.keyK[i] = k;
    this.keyE[i] = e;
    this.next[i] = -1;
    if (r.tail >= 0) this.next[r.tail] = i;
    else r.head = i;
    r.tail = i;
    return i;
  }

  alloc(stream: number, seq: number, address: number, size: number, allocator: number, stack: number, nativeStack: number): void {
    const i = this.push(stream, KIND_ALLOC, seq, 1);
    this.seq[i] = seq;
    this.addr[i] = address;
    this.size[i] = size;
    this.code[i] = allocator;
    this.stack[i] = stack;
    this.native[i] = nativeStack;
    if (this.n >= this.maxBuffered) this.releaseAll();
  }

  free(stream: number, seq: number, address: number, size: number, deallocator: number): void {
    const i = this.push(stream, KIND_FREE, seq, 1);
    this.seq[i] = seq;
    this.addr[i] = address;
    this.size[i] = size;
    this.code[i] = deallocator;
    if (this.n >= this.maxBuffered) this.releaseAll();
  }

  meta(rec: MetaRecord): void {
    const k = 'seq' in rec ? rec.seq : -Infinity;
    const i = this.push(rec.stream, KIND_META, k, 0);
    this.metas[i] = rec;
    if (rec.type === 'barrier') {
      this.release(i);
      this.wmK = this.keyK[i]!;
      this.wmE = this.keyE[i]!;
      this.compact();
    } else if (this.n >= this.maxBuffered) {
      this.releaseAll();
    }
  }

  /** Releases everything: call after the decoder's end(). */
  end(): void {
    this.releaseAll();
  }

  private releaseAll(): void {
    if (this.n === 0) return;
    this.release(-1);
    // Later arrivals sort after everything released.
    for (const r of this.runs.values()) {
      if (r.lastK > this.wmK || (r.lastK === this.wmK && r.lastE > this.wmE)) {
        this.wmK = r.lastK;
        this.wmE = r.lastE;
      }
    }
    this.compact();
  }

  /** Whether item i sorts before item j: by (k, e), then file order (the index). */
  private before(i: number, j: number): boolean {
    const ki = this.keyK[i]!;
    const kj = this.keyK[j]!;
    if (ki !== kj) return ki < kj;
    const ei = this.keyE[i]!;
    const ej = this.keyE[j]!;
    if (ei !== ej) return ei < ej;
    return i < j;
  }

  /** Delivers, in order, every buffered item that sorts at or before item `limit` (−1: everything). */
  private release(limit: number): void {
    const active: StreamRun[] = [];
    for (const r of this.runs.values()) if (r.head >= 0) active.push(r);
    if (active.length === 1) {
      const r = active[0]!;
      let i = r.head;
      while (i >= 0 && (limit < 0 || i === limit || this.before(i, limit))) {
        this.deliver(i);
        i = this.next[i]!;
      }
      r.head = i;
      if (i < 0) r.tail = -1;
      return;
    }
    for (;;) {
      // The run whose head sorts first, and the head that sorts second.
      let best: StreamRun | undefined;
      let second = -1;
      for (const r of active) {
        if (r.head < 0) continue;
        if (best === undefined || this.before(r.head, best.head)) {
          if (best !== undefined) second = best.head;
          best = r;
        } else if (second < 0 || this.before(r.head, second)) {
          second = r.head;
        }
      }
      if (best === undefined) return;
      let i = best.head;
      if (limit >= 0 && i !== limit && !this.before(i, limit)) return;
      // Deliver from this run while it stays first.
      while (i >= 0 && (second < 0 || this.before(i, second)) && (limit < 0 || i === limit || this.before(i, limit))) {
        this.deliver(i);
        i = this.next[i]!;
      }
      best.head = i;
      if (i < 0) best.tail = -1;
    }
  }

  private deliver(i: number): void {
    this.gone[i] = 1;
    this.delivered++;
    this.releasedNow++;
    switch (this.kind[i]) {
      case KIND_ALLOC:
        this.down.alloc(
          this.stream[i]!,
          this.seq[i]!,
          this.addr[i]!,
          this.size[i]!,
          this.code[i]!,
          this.stack[i]!,
          this.native[i]!,
        );
        break;
      case KIND_FREE:
        this.down.free(this.stream[i]!, this.seq[i]!, this.addr[i]!, this.size[i]!, this.code[i]!);
        break;
      default: {
        const m = this.metas[i]!;
        this.metas[i] = undefined;
        this.down.meta(m);
      }
    }
  }

  /** Moves the items still buffered to the front of the columns, keeping their order, and relinks runs. */
  private compact(): void {
    const n = this.n;
    let w = 0;
    for (const r of this.runs.values()) {
      r.head = -1;
      r.tail = -1;
    }
    this.last = undefined;
    const all = this.releasedNow === n;
    this.releasedNow = 0;
    if (all) {
      // The usual case at a barrier: everything went out.
      this.gone.fill(0, 0, n);
      this.n = 0;
      this.metas.length = 0;
      this.forgetRuns();
      return;
    }
    for (let i = 0; i < n; i++) {
      if (this.gone[i] === 1) {
        this.gone[i] = 0;
        continue;
      }
      if (w !== i) {
        this.kind[w] = this.kind[i]!;
        this.code[w] = this.code[i]!;
        this.keyE[w] = this.keyE[i]!;
        this.stream[w] = this.stream[i]!;
        this.keyK[w] = this.keyK[i]!;
        this.seq[w] = this.seq[i]!;
        this.addr[w] = this.addr[i]!;
        this.size[w] = this.size[i]!;
        this.stack[w] = this.stack[i]!;
        this.native[w] = this.native[i]!;
        this.metas[w] = this.metas[i];
        this.metas[i] = undefined;
      }
      this.next[w] = -1;
      const r = this.run(this.stream[w]!);
      if (r.tail >= 0) this.next[r.tail] = w;
      else r.head = w;
      r.tail = w;
      w++;
    }
    this.n = w;
    if (this.metas.length > w + 4096) this.metas.length = w;
    this.forgetRuns();
  }

  /** Streams with nothing buffered and nothing to remember can go (threads come and go). */
  private forgetRuns(): void {
    for (const [id, r] of this.runs) if (r.head < 0 && (r.lastK < this.wmK || (r.lastK === this.wmK && r.lastE <= this.wmE))) this.runs.delete(id);
    this.last = undefined;
  }
}
