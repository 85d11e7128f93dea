// The binary container of the HTML report's payload: a list of named columns (numbers or strings) plus
// small JSON values. Node encodes it (payload-writer.ts, the only writer); the browser decodes it with this
// module (payload.ts's decodePayload, from viewer/src/boot.ts). The format is defined here, in the comment
// below and the constants; the writer is kept out of this module because everything here is in the
// viewer's bundle, and esbuild's minified names depend on all the code it reads (a change to a writer here
// would change every page's bytes).
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
// whose differences are exact (below 2^53), and the writer's deltas() writes a UINT column when they are
// not (totals over a long run can pass 2^53: src/model/value-bounds.ts).

export const PAYLOAD_MAGIC = 'MLHP';
export const PAYLOAD_VERSION = 1;

export const ColumnKind = { Uint: 1, Delta: 2, Index: 3, IndexDelta: 4, Strings: 5, Json: 6 } as const;
export type ColumnKind = (typeof ColumnKind)[keyof typeof ColumnKind];

/** Float64Array, Int32Array, string[] or a parsed JSON value, by column kind. */
export type ColumnValue = unknown;

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
