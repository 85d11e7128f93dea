// Splits a capture's bytes, pushed in chunks cut anywhere, into its units: the file header, whole blocks
// whose CRC checks out, damaged regions (skipped up to the next sync mark that starts a good block) and a
// partial block at the end. The decoder (records) and the recompressor (compress.ts) both sit on top.
//
// Memory: at most one unit is held (a block is at most 32 + 255 + 16 MiB bytes); a chunk is never kept
// after feed() returns, so the caller may reuse its buffer.

import { crc32 } from 'node:zlib';
import { CaptureFormatError } from '../errors.js';
import { BLOCK_FLAGS_COMPRESSED, BLOCK_HEADER_LEN, BLOCK_SYNC_U32, FILE_HEADER_FIXED_LEN, MAX_BLOCK_PAYLOAD } from './format.js';
import { checkHeaderPrefix, decodeHeader, headerCutShort } from './header.js';
import type { BlockInfo, CaptureHeader } from './records.js';

export interface FrameSink {
  /** The whole header, decoded; `bytes` is only valid during the call. */
  header(header: CaptureHeader, bytes: Uint8Array): void;
  /** A whole block whose CRC checks out. `bytes` (header and stored payload) is only valid during the call. */
  block(info: BlockInfo, bytes: Uint8Array): void;
  /** Bytes [offset, offset + length) are not part of any good block. */
  damaged(offset: number, length: number, reason: string): void;
  /** The bytes of damaged regions, in pieces as they are passed over (for tools that copy a capture). */
  skipped?(bytes: Uint8Array): void;
  /**
   * The data ends inside a block that starts at `offset`: `info` is undefined when even its 32-byte header
   * is incomplete; `bytes` is what there is of the block (header included).
   */
  truncated(offset: number, info: BlockInfo | undefined, bytes: Uint8Array): void;
}

const enum State {
  Header,
  Blocks,
  Resync,
  Done,
}

/** Result of looking at a possible block start. */
const NEED_MORE = -1;
const BAD = -2;

const SYNC0 = BLOCK_SYNC_U32 & 0xff;

export class BlockFramer {
  private state = State.Header;
  private pending = new Uint8Array(64 * 1024);
  private pendingLen = 0;
  /** File offset of pending[0] (or of the next byte of the next chunk when pending is empty). */
  private offset = 0;
  /** Bytes the unit at the start of `pending` needs in total. */
  private need = 8;
  private damageStart = -1;
  private damageReason = '';
  /** Why the last block check failed (for the damage message). */
  private lastBad = '';

  constructor(
    private readonly sink: FrameSink,
    private readonly source?: string,
  ) {}

  /** Total bytes consumed so far (complete units). */
  get position(): number {
    return this.offset;
  }

  feed(chunk: Uint8Array): void {
    if (this.state === State.Done) throw new Error('BlockFramer.feed() after end()');
    let off = 0;
    while (off < chunk.length) {
      if (this.pendingLen > 0) {
        const take = Math.min(Math.max(this.need - this.pendingLen, 1), chunk.length - off);
        this.append(chunk, off, take);
        off += take;
        if (this.pendingLen < this.need) continue;
        const used = this.process(this.pending, 0, this.pendingLen, false);
        this.pending.copyWithin(0, used, this.pendingLen);
        this.pendingLen -= used;
        this.offset += used;
      } else {
        const used = this.process(chunk, off, chunk.length, false);
        off += used;
        this.offset += used;
        if (off < chunk.length) {
          this.append(chunk, off, chunk.length - off);
          off = chunk.length;
        }
      }
    }
  }

  /** The data is complete: report what is left (a partial block, a damaged tail). */
  end(): void {
    if (this.state === State.Done) return;
    const buf = this.pending;
    const len = this.pendingLen;
    if (this.state === State.Header) {
      if (len === 0 && this.offset === 0) {
        this.state = State.Done;
        throw new CaptureFormatError(`${this.source ?? 'the data'} is empty: a capture starts with a ${FILE_HEADER_FIXED_LEN}-byte header`, 0, {
          hint: 'The program may have ended or been killed before the agent started.',
        });
      }
      this.state = State.Done;
      const total = checkHeaderPrefix(buf.subarray(0, len), true, this.source);
      throw headerCutShort(this.source, len, total);
    }
    // Whatever is left did not form a whole unit: consume what can be consumed with the end in view.
    const used = this.process(buf, 0, len, true);
    this.offset += used;
    const rest = len - used;
    if (rest > 0) {
      // process() stops at end only before a plausible block start.
      const start = this.offset;
      this.endDamage(start);
      const info = rest >= BLOCK_HEADER_LEN ? this.blockInfo(buf, used, start) : undefined;
      this.sink.truncated(start, info, buf.subarray(used, len));
      this.offset += rest;
    }
    this.endDamage(this.offset);
    this.pendingLen = 0;
    this.state = State.Done;
  }

  private append(chunk: Uint8Array, off: number, n: number): void {
    const need = this.pendingLen + n;
    if (need > this.pending.length) {
      let cap = this.pending.length * 2;
      while (cap < need) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.pending.subarray(0, this.pendingLen));
      this.pending = next;
    } else if (this.pendingLen === 0 && this.pending.length > 1 << 22 && need < 1 << 16) {
      // Give back a big buffer once the big block it held is done.
      this.pending = new Uint8Array(64 * 1024);
    }
    this.pending.set(chunk.subarray(off, off + n), this.pendingLen);
    this.pendingLen = need;
  }

  /**
   * Consumes whole units from buf[start, end) and returns the bytes consumed; sets `need` to what the next
   * unit needs. With `atEnd`, damaged bytes are consumed up to a plausible partial block (or to the end).
   */
  private process(buf: Uint8Array, start: number, end: number, atEnd: boolean): number {
    let p = start;
    const base = this.offset - start; // file offset of buf[0]
    // Start of the damaged bytes passed over in this call (for sink.skipped).
    let skipFrom = this.state === State.Resync ? start : -1;
    const skipTo = (to: number): void => {
      if (skipFrom >= 0 && to > skipFrom) this.sink.skipped?.(buf.subarray(skipFrom, to));
      skipFrom = -1;
    };
    for (;;) {
      const avail = end - p;
      if (this.state === State.Header) {
        const total = checkHeaderPrefix(buf.subarray(p, end), false, this.source);
        if (avail < total) {
          this.need = total;
          return p - start;
        }
        const bytes = buf.subarray(p, p + total);
        const header = decodeHeader(bytes, this.source);
        this.sink.header(header, bytes);
        p += total;
        this.state = State.Blocks;
        continue;
      }
      if (avail === 0) {
        this.need = this.state === State.Resync ? 4 : BLOCK_HEADER_LEN;
        skipTo(p);
        return p - start;
      }
      if (this.state === State.Blocks) {
        const r = this.check(buf, p, end);
        if (r === NEED_MORE) return p - start;
        if (r === BAD) {
          this.startDamage(base + p, this.lastBad);
          this.state = State.Resync;
          skipFrom = p;
          p++;
          continue;
        }
        this.emitBlock(buf, p, r, base + p);
        p += r;
        continue;
      }
      // Resync: look for the next sync mark that starts a good block.
      let i = p;
      for (;;) {
        i = buf.indexOf(SYNC0, i);
        if (i < 0 || i >= end) {
          i = end;
          break;
        }
        if (end - i < 4) break;
        if (readU32(buf, i) === BLOCK_SYNC_U32) break;
        i++;
      }
      if (i >= end || end - i < 4) {
        // No sync mark in what we have; keep the last bytes (a sync mark may straddle the chunk edge).
        const keep = atEnd ? 0 : Math.min(3, end - p);
        this.need = keep + 1;
        skipTo(end - keep);
        return end - keep - start;
      }
      p = i;
      const r = this.check(buf, p, end);
      if (r === NEED_MORE) {
        if (atEnd && !this.plausible(buf, p, end)) {
          p++;
          continue;
        }
        skipTo(p);
        return p - start;
      }
      if (r === BAD) {
        p++;
        continue;
      }
      skipTo(p);
      this.endDamage(base + p);
      this.state = State.Blocks;
      this.emitBlock(buf, p, r, base + p);
      p += r;
    }
  }

  /** Whether a partial block at p (the data ends before it is whole) looks like a real block start. */
  private plausible(buf: Uint8Array, p: number, end: number): boolean {
    if (end - p < BLOCK_HEADER_LEN) return true;
    return this.checkFields(buf, p) >= 0;
  }

  /**
   * Checks the block at p: its length if it is whole and good, NEED_MORE (and sets `need`) when more bytes
   * are needed to decide, BAD otherwise.
   */
  private check(buf: Uint8Array, p: number, end: number): number {
    const avail = end - p;
    if (avail < 4) {
      for (let k = 0; k < avail; k++) if (buf[p + k] !== ((BLOCK_SYNC_U32 >>> (8 * k)) & 0xff)) return this.bad('no sync mark');
      this.need = BLOCK_HEADER_LEN;
      return NEED_MORE;
    }
    if (readU32(buf, p) !== BLOCK_SYNC_U32) return this.bad('no sync mark');
    if (avail < BLOCK_HEADER_LEN) {
      this.need = BLOCK_HEADER_LEN;
      return NEED_MORE;
    }
    const total = this.checkFields(buf, p);
    if (total < 0) return BAD;
    if (avail < total) {
      this.need = total;
      return NEED_MORE;
    }
    const headerLen = buf[p + 5]!;
    let crc = crc32(buf.subarray(p + 4, p + 16));
    crc = crc32(buf.subarray(p + 20, p + headerLen), crc);
    crc = crc32(buf.subarray(p + headerLen, p + total), crc);
    if (crc !== readU32(buf, p + 16)) return this.bad('CRC-32 mismatch');
    return total;
  }

  /** Checks the header fields of the block at p (32 bytes available); returns its total length or BAD. */
  private checkFields(buf: Uint8Array, p: number): number {
    const headerLen = buf[p + 5]!;
    const flags = buf[p + 4]!;
    const stored = readU32(buf, p + 8);
    const raw = readU32(buf, p + 12);
    if (headerLen < BLOCK_HEADER_LEN) return this.bad(`header length ${headerLen} below ${BLOCK_HEADER_LEN}`);
    if (stored > MAX_BLOCK_PAYLOAD) return this.bad(`stored length ${stored} above the limit`);
    if (raw > MAX_BLOCK_PAYLOAD) return this.bad(`raw length ${raw} above the limit`);
    if ((flags & BLOCK_FLAGS_COMPRESSED) === 0 && raw !== stored) return this.bad(`raw length ${raw} differs from stored length ${stored}`);
    if (readU32(buf, p + 28) > 0x1fffff) return this.bad('base_seq above 2^53 - 1');
    return headerLen + stored;
  }

  private bad(reason: string): number {
    this.lastBad = reason;
    return BAD;
  }

  private blockInfo(buf: Uint8Array, p: number, offset: number): BlockInfo {
    return {
      offset,
      flags: buf[p + 4]!,
      headerLen: buf[p + 5]!,
      kind: buf[p + 6]! | (buf[p + 7]! << 8),
      storedLen: readU32(buf, p + 8),
      rawLen: readU32(buf, p + 12),
      stream: readU32(buf, p + 20),
      baseSeq: readU32(buf, p + 24) + readU32(buf, p + 28) * 4294967296,
    };
  }

  private emitBlock(buf: Uint8Array, p: number, total: number, offset: number): void {
    this.sink.block(this.blockInfo(buf, p, offset), buf.subarray(p, p + total));
  }

  private startDamage(offset: number, reason: string): void {
    this.damageStart = offset;
    this.damageReason = reason;
  }

  private endDamage(offset: number): void {
    if (this.damageStart < 0) return;
    const start = this.damageStart;
    this.damageStart = -1;
    if (offset > start) this.sink.damaged(start, offset - start, this.damageReason);
  }
}

export function readU32(buf: Uint8Array, p: number): number {
  return (buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24)) >>> 0;
}
