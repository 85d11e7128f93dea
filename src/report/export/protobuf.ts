// The few protocol-buffer writing primitives the pprof and OTLP exports and the Pyroscope push need (wire
// types 0, 1 and 2). No schema compiler or runtime dependency for three message families.

export class ProtoWriter {
  private buf = new Uint8Array(1024);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const grown = new Uint8Array(cap);
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
  }

  /** Unsigned varint of a non-negative integer below 2^53, or any non-negative bigint below 2^64. */
  varint(value: number | bigint): this {
    this.ensure(10);
    if (typeof value === 'bigint') {
      let v = BigInt.asUintN(64, value);
      while (v >= 0x80n) {
        this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
        v >>= 7n;
      }
      this.buf[this.len++] = Number(v);
      return this;
    }
    if (value < 0 || !Number.isInteger(value)) throw new RangeError(`varint of ${value}`);
    let v = value;
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
    return this;
  }

  /** A varint field; zero values are left out, as proto3 does. */
  uintField(field: number, value: number | bigint): this {
    if (value === 0 || value === 0n) return this;
    return this.varint(field << 3).varint(value);
  }

  /** A varint field written even when zero (a member of a oneof, whose presence says which it is). */
  varintField(field: number, value: number | bigint): this {
    return this.varint(field << 3).varint(value);
  }

  /** A fixed64 field (wire type 1), little-endian; zero is left out. */
  fixed64Field(field: number, value: bigint): this {
    if (value === 0n) return this;
    this.varint((field << 3) | 1);
    this.ensure(8);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 8).setBigUint64(0, BigInt.asUintN(64, value), true);
    this.len += 8;
    return this;
  }

  bytesField(field: number, bytes: Uint8Array): this {
    this.varint((field << 3) | 2).varint(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    return this;
  }

  stringField(field: number, s: string): this {
    return this.bytesField(field, new TextEncoder().encode(s));
  }

  messageField(field: number, message: ProtoWriter): this {
    return this.bytesField(field, message.finish());
  }

  /** A packed repeated varint field (left out when empty). */
  packedField(field: number, values: readonly number[]): this {
    if (values.length === 0) return this;
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    return this.bytesField(field, inner.finish());
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
