// The format's primitives (docs/capture-format.md, "Primitives"): LEB128 varints, zigzag, strings and byte
// strings, read from a Uint8Array at a position and written into a growable buffer.
//
// Reading never allocates per value: ByteReader keeps its position in a field and returns plain numbers.
// Values above 2^53 − 1 do not fit a double exactly; the format calls them corruption, and so do we
// (header fields that really are 64-bit, such as start_wall_ns, are read with varintBig()).

import { CaptureFormatError } from '../errors.js';
import { MAX_STRING_LEN } from './format.js';

export const MAX_VARINT_LEN = 10;
const TWO_32 = 4294967296;

const utf8Decoder = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

/** Zigzag-encodes a signed safe integer: 0, −1, 1, −2, … → 0, 1, 2, 3, … */
export function zigzagEncode(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

/** Inverse of zigzagEncode for values up to 2^53 − 1 (arithmetic, not 32-bit bit operations). */
export function zigzagDecode(v: number): number {
  if (v < 0x80000000) return (v >>> 1) ^ -(v & 1);
  return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
}

/** Bytes that varint encoding of `n` (a safe non-negative integer) takes. */
export function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/**
 * Why a read failed, thrown by ByteReader. It is a CaptureFormatError so that nothing else ever escapes a
 * reader; the decoder catches it and turns it into a warning.
 */
export class ReadError extends CaptureFormatError {}

/** A cursor over `buf[pos, end)`. `base` is the file offset of `buf[0]`, for error messages. */
export class ByteReader {
  buf: Uint8Array;
  pos: number;
  end: number;
  base: number;

  constructor(buf: Uint8Array, pos = 0, end = buf.length, base = 0) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.base = base;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(what: string, at = this.pos): never {
    throw new ReadError(`${what} at offset ${this.base + at}`, this.base + at);
  }

  u8(): number {
    if (this.pos >= this.end) this.fail('unexpected end of data');
    return this.buf[this.pos++]!;
  }

  /** An unsigned LEB128 varint up to 2^53 − 1. */
  varint(): number {
    const buf = this.buf;
    const end = this.end;
    const start = this.pos;
    let p = start;
    if (p < end) {
      const b = buf[p]!;
      if (b < 0x80) {
        this.pos = p + 1;
        return b;
      }
    }
    let result = 0;
    let mul = 1;
    for (let i = 0; i < MAX_VARINT_LEN; i++) {
      if (p >= end) this.fail('varint cut short', start);
      const b = buf[p++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) this.fail('varint above 2^53 - 1', start);
        this.pos = p;
        return result;
      }
      mul *= 128;
    }
    return this.fail('varint longer than 10 bytes', start);
  }

  /** A varint of up to 64 bits, for header fields such as start_wall_ns. */
  varintBig(): bigint {
    const start = this.pos;
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < MAX_VARINT_LEN; i++) {
      if (this.pos >= this.end) this.fail('varint cut short', start);
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) {
        if (result >= 1n << 64n) this.fail('varint above 2^64 - 1', start);
        return result;
      }
      shift += 7n;
    }
    return this.fail('varint longer than 10 bytes', start);
  }

  svarint(): number {
    return zigzagDecode(this.varint());
  }

  /** A length-prefixed byte string, copied (the caller may keep it; the source buffer may be reused). */
  bytes(max = MAX_STRING_LEN): Uint8Array {
    const start = this.pos;
    const len = this.varint();
    if (len > max) this.fail(`length ${len} above the limit of ${max}`, start);
    if (len > this.end - this.pos) this.fail(`length ${len} runs past the end of the record`, start);
    const out = this.buf.slice(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  /** A length-prefixed UTF-8 string; invalid UTF-8 becomes U+FFFD rather than an error. */
  string(max = MAX_STRING_LEN): string {
    const start = this.pos;
    const len = this.varint();
    if (len > max) this.fail(`string length ${len} above the limit of ${max}`, start);
    if (len > this.end - this.pos) this.fail(`string length ${len} runs past the end of the record`, start);
    const s = decodeUtf8(this.buf, this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  /** `n` raw bytes as a view (not a copy). */
  view(n: number): Uint8Array {
    if (n > this.end - this.pos) this.fail(`${n} bytes run past the end of the data`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

export function decodeUtf8(buf: Uint8Array, start: number, end: number): string {
  if (end - start < 48) {
    // Short ASCII strings are the common case (names, file names); building them directly is faster than
    // a TextDecoder call.
    let s = '';
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      if (c >= 0x80) return utf8Decoder.decode(buf.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8Decoder.decode(buf.subarray(start, end));
}

export function encodeUtf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

/** A growable little-endian byte buffer. `bytes()` returns a view of what was written. */
export class ByteWriter {
  buf: Uint8Array;
  length = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  reset(): void {
    this.length = 0;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.length++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    const b = this.buf;
    b[this.length++] = v & 0xff;
    b[this.length++] = (v >>> 8) & 0xff;
  }

  u32(v: number): void {
    this.ensure(4);
    const b = this.buf;
    b[this.length++] = v & 0xff;
    b[this.length++] = (v >>> 8) & 0xff;
    b[this.length++] = (v >>> 16) & 0xff;
    b[this.length++] = (v >>> 24) & 0xff;
  }

  /** A u64 from a safe integer. */
  u64(v: number): void {
    this.u32((v % TWO_32) >>> 0);
    this.u32(Math.floor(v / TWO_32) >>> 0);
  }

  /** An unsigned varint of a safe non-negative integer. */
  varint(v: number): void {
    if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER && Number.isInteger(v))) {
      throw new RangeError(`varint value ${v} is not an integer in [0, 2^53 - 1]`);
    }
    this.ensure(MAX_VARINT_LEN);
    const b = this.buf;
    let n = this.length;
    while (v >= 0x80) {
      b[n++] = (v & 0x7f) | 0x80;
      v = v >= TWO_32 ? Math.floor(v / 128) : v >>> 7;
    }
    b[n++] = v;
    this.length = n;
  }

  /** A varint of up to 64 bits. */
  varintBig(v: bigint): void {
    if (v < 0n || v >= 1n << 64n) throw new RangeError(`varint value ${v} is not in [0, 2^64 - 1]`);
    this.ensure(MAX_VARINT_LEN);
    while (v >= 0x80n) {
      this.buf[this.length++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.length++] = Number(v);
  }

  svarint(v: number): void {
    this.varint(zigzagEncode(v));
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  bytesField(bytes: Uint8Array): void {
    if (bytes.length > MAX_STRING_LEN) throw new RangeError(`a string of ${bytes.length} bytes is above the format's limit of ${MAX_STRING_LEN}`);
    this.varint(bytes.length);
    this.raw(bytes);
  }

  string(s: string): void {
    // Encode straight into the buffer: a UTF-8 string takes at most 3 bytes per UTF-16 unit.
    const max = s.length * 3;
    this.ensure(max + MAX_VARINT_LEN);
    if (max < 0x80) {
      const lenAt = this.length++;
      const { written } = utf8Encoder.encodeInto(s, this.buf.subarray(this.length));
      this.buf[lenAt] = written;
      this.length += written;
      return;
    }
    this.bytesField(utf8Encoder.encode(s));
  }
}
