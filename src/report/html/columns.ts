// The binary container of the HTML report's payload: a list of named columns (numbers or strings) plus
// small JSON values. Node encodes it (payload-encode.ts); the browser decodes it (viewer/src/boot.ts).
// Both sides use this one module, so the format exists in exactly one place.
//
// Why binary and not JSON: a timeline of 1 million snapshots is 6 million numbers. As JSON text that is
// ~60 MB and a multi-second JSON.parse; as zigzag-delta varints it is ~10 MB before deflate and decodes
// in tens of milliseconds. The container is then deflated and base64-encoded by the page assembler, and
// base64 has no character that HTML or a script tag treats specially.
//
//   container := magic "MLHP" u8 version column*
//   column    := u8 kind, str name, varint count, varint byteLength, byteLength bytes
//   kinds     : 1 UINT (varints, decoded to Float64Array)   2 DELTA (zigzag deltas, Float64Array)
//               3 INDEX (varints, Int32Array)              4 INDEX_DELTA (zigzag deltas, Int32Array)
//               5 STRINGS (count UTF-16 lengths as varints, then all strings as one UTF-8 run)
//               6 JSON (UTF-8 JSON text; count is 1)
// UINT and INDEX take non-negative integers of any size (a double above 2^53 is an integer, and its
// varint is exact: dividing by 128 and the remainder are exact in floating point); DELTA takes integers
// whose differences are exact (below 2^53), and deltas() writes a UINT column when they are not (totals
// over a long run can pass 2^53: src/model/value-bounds.ts).

export const PAYLOAD_MAGIC = 'MLHP';
/** The largest delta whose zigzag (2|d| or 2|d| − 1) is still exact. */
const MAX_EXACT_DELTA = 2 ** 52 - 1;
export const PAYLOAD_VERSION = 1;

export const ColumnKind = { Uint: 1, Delta: 2, Index: 3, IndexDelta: 4, Strings: 5, Json: 6 } as const;
export type ColumnKind = (typeof ColumnKind)[keyof typeof ColumnKind];

/** Float64Array, Int32Array, string[] or a parsed JSON value, by column kind. */
export type ColumnValue = unknown;

/** Grows a byte buffer; varints are written without allocating per value. */
export class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private pos = 0;

  get length(): number {
    return this.pos;
  }

  private reserve(n: number): void {
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

  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.uvarint(b.length);
    this.bytes(b);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

export class ByteReader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  byte(): number {
    if (this.pos >= this.buf.length) throw new RangeError(`payload ends early at byte ${this.pos}`);
    return this.buf[this.pos++] ?? 0;
  }

  uvarint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 0x80;
      if (scale === Infinity) throw new RangeError(`payload varint too long at byte ${this.pos}`);
    }
  }

  svarint(): number {
    const z = this.uvarint();
    return z % 2 === 1 ? -(z + 1) / 2 : z / 2;
  }

  take(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) throw new RangeError(`payload ends early: need ${n} bytes at ${this.pos}`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  str(): string {
    return new TextDecoder().decode(this.take(this.uvarint()));
  }
}

/** Builds a container column by column. */
export class ColumnWriter {
  private readonly out = new ByteWriter();
  private readonly names = new Set<string>();

  constructor() {
    for (const c of PAYLOAD_MAGIC) this.out.byte(c.charCodeAt(0));
    this.out.byte(PAYLOAD_VERSION);
  }

  private column(kind: ColumnKind, name: string, count: number, body: Uint8Array): void {
    if (this.names.has(name)) throw new Error(`payload column '${name}' written twice`);
    this.names.add(name);
    this.out.byte(kind);
    this.out.str(name);
    this.out.uvarint(count);
    this.out.uvarint(body.length);
    this.out.bytes(body);
  }

  /** Non-negative integers; `index` decodes to Int32Array (values below 2^31). */
  uints(name: string, values: ArrayLike<number>, index = false): void {
    const w = new ByteWriter();
    for (let i = 0; i < values.length; i++) w.uvarint(values[i] ?? 0);
    this.column(index ? ColumnKind.Index : ColumnKind.Uint, name, values.length, w.finish());
  }

  /** Integers stored as differences from their predecessor: small for sorted or slowly varying series. */
  deltas(name: string, values: ArrayLike<number>, index = false): void {
    const w = new ByteWriter();
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
    this.column(index ? ColumnKind.IndexDelta : ColumnKind.Delta, name, values.length, w.finish());
  }

  strings(name: string, values: readonly string[]): void {
    const w = new ByteWriter();
    for (const s of values) w.uvarint(s.length);
    w.bytes(new TextEncoder().encode(values.join('')));
    this.column(ColumnKind.Strings, name, values.length, w.finish());
  }

  json(name: string, value: unknown): void {
    this.column(ColumnKind.Json, name, 1, new TextEncoder().encode(JSON.stringify(value)));
  }

  finish(): Uint8Array {
    return this.out.finish();
  }
}

/** Decodes a whole container into name → column. Throws RangeError on a malformed container. */
export function readColumns(bytes: Uint8Array): Map<string, ColumnValue> {
  const r = new ByteReader(bytes);
  const magic = String.fromCharCode(...r.take(4));
  if (magic !== PAYLOAD_MAGIC) throw new RangeError(`not a memlens report payload (magic ${JSON.stringify(magic)})`);
  const version = r.byte();
  if (version !== PAYLOAD_VERSION) throw new RangeError(`report payload version ${version}; this viewer reads ${PAYLOAD_VERSION}`);
  const columns = new Map<string, ColumnValue>();
  while (!r.done) {
    const kind = r.byte() as ColumnKind;
    const name = r.str();
    const count = r.uvarint();
    const body = new ByteReader(r.take(r.uvarint()));
    columns.set(name, decodeColumn(kind, count, body, name));
  }
  return columns;
}

function decodeColumn(kind: ColumnKind, count: number, r: ByteReader, name: string): ColumnValue {
  switch (kind) {
    case ColumnKind.Uint:
    case ColumnKind.Index: {
      const out = kind === ColumnKind.Uint ? new Float64Array(count) : new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = r.uvarint();
      return out;
    }
    case ColumnKind.Delta:
    case ColumnKind.IndexDelta: {
      const out = kind === ColumnKind.Delta ? new Float64Array(count) : new Int32Array(count);
      let v = 0;
      for (let i = 0; i < count; i++) {
        v += r.svarint();
        out[i] = v;
      }
      return out;
    }
    case ColumnKind.Strings: {
      const lengths = new Array<number>(count);
      for (let i = 0; i < count; i++) lengths[i] = r.uvarint();
      const all = new TextDecoder().decode(r.take(r.buf.length - r.pos));
      const out = new Array<string>(count);
      let at = 0;
      for (let i = 0; i < count; i++) {
        const n = lengths[i] ?? 0;
        out[i] = all.slice(at, at + n);
        at += n;
      }
      return out;
    }
    case ColumnKind.Json:
      return JSON.parse(new TextDecoder().decode(r.take(r.buf.length - r.pos))) as unknown;
    default:
      throw new RangeError(`report payload column '${name}' has unknown kind ${String(kind)}`);
  }
}
