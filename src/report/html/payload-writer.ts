// The one writer of the HTML report's payload (page.ts calls writePayload): the container of columns.ts,
// whose format is described there and decoded there (readColumns) and in payload.ts (decodePayload).
// Every column's body is written into one reused buffer and the container into another, so the page's
// writing holds little besides the payload itself (a ByteWriter of 64 KiB per column and a copy of each
// body and of the whole were 3.4 MB of array buffers for numpy_mix's 385 KB payload: docs/benchmarks.md,
// round twenty-two).
//
// Why not in columns.ts or payload.ts: both are in the viewer's bundle, and esbuild's minifier picks its
// short names from the characters of all the code it reads, code it then leaves out included: a writer
// there would make every change to it a change of every page's bytes. This module is not in the bundle.
// payload-writer.test.ts, columns.test.ts and payload.test.ts hold it to the decoders (write, then read).

import { ColumnKind, PAYLOAD_MAGIC, PAYLOAD_VERSION } from './columns.js';
import type { ReportData } from './payload.js';

/** The largest delta whose zigzag (2|d| or 2|d| − 1) is still exact. */
const MAX_EXACT_DELTA = 2 ** 52 - 1;

/** A growable byte buffer, emptied and reused. */
class Bytes {
  buf: Uint8Array;
  pos = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
  }

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.pos++] = b;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Unsigned LEB128 of a non-negative integer (exact for every double that is one). */
  uvarint(v: number): void {
    if (!(v >= 0 && Number.isInteger(v))) throw new RangeError(`payload column value ${v} is not a non-negative integer`);
    // 8 bytes hold 2^56; a double reaches 2^1024, 147 bytes.
    this.reserve(v <= Number.MAX_SAFE_INTEGER ? 8 : 147);
    // Division, not bit operations: values above 2^31 must survive.
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  /** Zigzag: 0, -1, 1, -2, … → 0, 1, 2, 3, … */
  svarint(v: number): void {
    this.uvarint(v < 0 ? -2 * v - 1 : 2 * v);
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** Builds a container column by column (columns.ts's format). */
export class PayloadWriter {
  private readonly out: Bytes;
  private readonly body = new Bytes(1 << 12);
  private readonly names = new Set<string>();
  private readonly encoder = new TextEncoder();

  constructor(capacity = 1 << 16) {
    this.out = new Bytes(capacity);
    for (const c of PAYLOAD_MAGIC) this.out.byte(c.charCodeAt(0));
    this.out.byte(PAYLOAD_VERSION);
  }

  private column(kind: ColumnKind, name: string, count: number, body: Uint8Array): void {
    if (this.names.has(name)) throw new Error(`payload column '${name}' written twice`);
    this.names.add(name);
    const out = this.out;
    out.byte(kind);
    const n = this.encoder.encode(name);
    out.uvarint(n.length);
    out.bytes(n);
    out.uvarint(count);
    out.uvarint(body.length);
    out.bytes(body);
  }

  /** Non-negative integers; `index` decodes to Int32Array (values below 2^31). */
  uints(name: string, values: ArrayLike<number>, index = false): void {
    const w = this.body;
    w.pos = 0;
    for (let i = 0; i < values.length; i++) w.uvarint(values[i] ?? 0);
    this.column(index ? ColumnKind.Index : ColumnKind.Uint, name, values.length, w.view());
  }

  /** Integers stored as differences from their predecessor: small for sorted or slowly varying series. */
  deltas(name: string, values: ArrayLike<number>, index = false): void {
    const w = this.body;
    w.pos = 0;
    let prev = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] ?? 0;
      const d = v - prev;
      // A difference that is not exact (values at or past 2^53): the plain values are, so write those.
      if (!(Math.abs(d) <= MAX_EXACT_DELTA && Number.isSafeInteger(v))) {
        this.uints(name, values, index);
        return;
      }
      w.svarint(d);
      prev = v;
    }
    this.column(index ? ColumnKind.IndexDelta : ColumnKind.Delta, name, values.length, w.view());
  }

  strings(name: string, values: readonly string[]): void {
    const w = this.body;
    w.pos = 0;
    for (const s of values) w.uvarint(s.length);
    w.bytes(this.encoder.encode(values.join('')));
    this.column(ColumnKind.Strings, name, values.length, w.view());
  }

  json(name: string, value: unknown): void {
    this.column(ColumnKind.Json, name, 1, this.encoder.encode(JSON.stringify(value)));
  }

  /** The container, not copied: valid while the writer is not written to. */
  view(): Uint8Array {
    return this.out.view();
  }
}

/** The payload's container (not copied: a view of the writer's buffer), columns in this order. */
export function writePayload(d: ReportData): Uint8Array {
  const w = new PayloadWriter();
  w.json('meta', d.meta);
  w.strings('strings', d.strings);
  w.uints('frames.name', d.frames.name, true);
  w.uints('frames.file', d.frames.file, true);
  w.uints('frames.line', d.frames.line, true);
  w.deltas('frames.source', d.frames.source, true);
  w.uints('frames.flags', d.frames.flags, true);
  // Parents are close to their children in a prefix tree built depth first: deltas are small.
  w.deltas('nodes.parent', d.nodes.parent, true);
  w.deltas('nodes.frame', d.nodes.frame, true);
  w.uints('threads.name', d.threads.name, true);
  w.uints('threads.tid', d.threads.tid);
  w.deltas('locations.node', d.locations.node, true);
  w.uints('locations.thread', d.locations.thread, true);
  w.uints('locations.allocator', d.locations.allocator, true);
  w.uints('locations.bytes', d.locations.bytes);
  w.uints('locations.count', d.locations.count);
  w.deltas('timeline.time', d.timeline.time);
  w.deltas('timeline.rss', d.timeline.rss);
  w.deltas('timeline.rssAnon', d.timeline.rssAnon);
  w.deltas('timeline.rssFile', d.timeline.rssFile);
  w.deltas('timeline.heap', d.timeline.heap);
  w.deltas('timeline.cgroupUsage', d.timeline.cgroupUsage);
  w.deltas('markers.time', d.markers.time);
  w.uints('markers.kind', d.markers.kind, true);
  w.uints('markers.label', d.markers.label, true);
  const t = d.temporal;
  if (t !== null) {
    w.json('temporal.kind', t.kind);
    w.deltas('temporal.tickEnd', t.tickEnd);
    w.deltas('temporal.tickPeakHeap', t.tickPeakHeap);
    w.deltas('temporal.tickPeakTime', t.tickPeakTime);
    w.deltas('temporal.location', t.location, true);
    w.deltas('temporal.start', t.start, true);
    w.deltas('temporal.end', t.end, true);
    w.uints('temporal.count', t.count);
    w.uints('temporal.bytes', t.bytes);
  }
  return w.view();
}
