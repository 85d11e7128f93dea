// CPython line tables: which source line (and, from 3.11, which columns) an instruction belongs to.
//
// A CODE record carries the code object's line table as CPython stores it and a FRAME record the byte
// offset of the current instruction (the same unit on every version: see agent/src/pyframes.h). The three
// formats, decoded the way CPython's own PyCode_Addr2Line reads them:
//   - LINETABLE_LNOTAB (3.9, co_lnotab): pairs (unsigned byte-offset increment, signed line increment); a line
//     increment applies from the offset reached after its pair's byte increment.
//   - LINETABLE_310 (3.10, co_linetable, PEP 626): pairs (unsigned range length in bytes, signed line delta),
//     each pair one address range; a delta of -128 means "no line number".
//   - LINETABLE_LOCATIONS (3.11+, Objects/locations.md): entries of 1 to 8 code units with line, end line,
//     column and end column, the line a delta from the previous entry's line (co_firstlineno at first).
// Lines are 1-based, columns 0-based (as co_positions() gives them); null where CPython says None.

import { LINETABLE_310, LINETABLE_LNOTAB, LINETABLE_LOCATIONS } from '../capture/format.js';
import { CaptureFormatError } from '../errors.js';

export interface SourceLocation {
  readonly line: number | null;
  readonly endLine: number | null;
  readonly column: number | null;
  readonly endColumn: number | null;
}

/** The instructions at byte offsets [start, end) of a code object's bytecode share this location. */
export interface LineRange extends SourceLocation {
  readonly start: number;
  /** Exclusive. Infinity for the last range of a 3.9 table (co_lnotab does not record the code's length). */
  readonly end: number;
}

const NO_LOCATION: SourceLocation = { line: null, endLine: null, column: null, endColumn: null };

export class LineTable {
  /**
   * @param ranges sorted by start, not overlapping.
   * @param damaged the table ended inside an entry or held a byte that cannot start one; `ranges` hold what
   *   was decoded before that point.
   */
  constructor(
    readonly ranges: readonly LineRange[],
    readonly damaged: boolean,
  ) {}

  /** Decodes a line table of kind LINETABLE_* (capture-format.md, CODE record) for a code whose
   * co_firstlineno is `firstLineNo`. */
  static decode(kind: number, table: Uint8Array, firstLineNo: number): LineTable {
    switch (kind) {
      case LINETABLE_LNOTAB:
        return decodeLnotab(table, firstLineNo);
      case LINETABLE_310:
        return decode310(table, firstLineNo);
      case LINETABLE_LOCATIONS:
        return decodeLocations(table, firstLineNo);
      default:
        throw new CaptureFormatError(`unknown line table kind ${kind} in a CODE record (this memlens knows ${LINETABLE_LNOTAB}, ${LINETABLE_310} and ${LINETABLE_LOCATIONS})`, undefined, {
          hint: 'the capture was probably written by a newer memlens agent: read it with a newer memlens',
        });
    }
  }

  /** The range holding the instruction at byte offset `offset`, or undefined if the table does not cover it. */
  rangeAt(offset: number): LineRange | undefined {
    const r = this.ranges;
    let lo = 0;
    let hi = r.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const m = r[mid]!;
      if (offset < m.start) hi = mid - 1;
      else if (offset >= m.end) lo = mid + 1;
      else return m;
    }
    return undefined;
  }

  /** The line of the instruction at byte offset `offset`; null when CPython has none for it. */
  lineAt(offset: number): number | null {
    return this.rangeAt(offset)?.line ?? null;
  }

  /** Line and columns of the instruction at byte offset `offset` (columns only from 3.11 tables). */
  locationAt(offset: number): SourceLocation {
    const r = this.rangeAt(offset);
    return r === undefined ? NO_LOCATION : { line: r.line, endLine: r.endLine, column: r.column, endColumn: r.endColumn };
  }

  /** Convenience for a single lookup; decode once and keep the LineTable when looking up many offsets. */
  static lineFor(kind: number, table: Uint8Array, firstLineNo: number, offset: number): number | null {
    return LineTable.decode(kind, table, firstLineNo).lineAt(offset);
  }
}

function signedByte(b: number): number {
  return b >= 128 ? b - 256 : b;
}

function lineOnly(start: number, end: number, line: number | null): LineRange {
  return { start, end, line, endLine: line, column: null, endColumn: null };
}

// co_lnotab (3.9). PyCode_Addr2Line: line = firstlineno; addr = 0; for each pair { addr += byte increment;
// if (addr > target) stop; line += line increment }. So a range ends where a non-zero byte increment takes
// the address, and the line increments of zero-length pairs (jumps of more than 127 lines) accumulate.
function decodeLnotab(t: Uint8Array, firstLineNo: number): LineTable {
  const ranges: LineRange[] = [];
  let addr = 0;
  let line = firstLineNo;
  let start = 0;
  const pairs = t.length >> 1;
  for (let i = 0; i < pairs; i++) {
    const byteIncr = t[2 * i]!;
    const lineIncr = signedByte(t[2 * i + 1]!);
    if (byteIncr !== 0) {
      pushMerged(ranges, lineOnly(start, addr + byteIncr, line));
      addr += byteIncr;
      start = addr;
    }
    line += lineIncr;
  }
  pushMerged(ranges, lineOnly(start, Infinity, line));
  return new LineTable(ranges, t.length % 2 !== 0);
}

// 3.10 merges nothing itself; 3.9's table splits ranges of one line into pairs of at most 255 bytes.
function pushMerged(ranges: LineRange[], r: LineRange): void {
  const last = ranges[ranges.length - 1];
  if (last !== undefined && last.end === r.start && last.line === r.line) {
    ranges[ranges.length - 1] = lineOnly(last.start, r.end, r.line);
  } else if (r.end > r.start) {
    ranges.push(r);
  }
}

// co_linetable of 3.10 (Objects/lnotab_notes.txt): every pair is a range [end, end + length); a line delta
// of -128 gives the range no line and leaves the running line as it was.
function decode310(t: Uint8Array, firstLineNo: number): LineTable {
  const ranges: LineRange[] = [];
  let end = 0;
  let line = firstLineNo;
  const pairs = t.length >> 1;
  for (let i = 0; i < pairs; i++) {
    const start = end;
    end = start + t[2 * i]!;
    const delta = signedByte(t[2 * i + 1]!);
    let rangeLine: number | null = null;
    if (delta !== -128) {
      line += delta;
      rangeLine = line;
    }
    if (end > start) ranges.push(lineOnly(start, end, rangeLine));
  }
  return new LineTable(ranges, t.length % 2 !== 0);
}

// Location kinds of 3.11+ (_PyCodeLocationInfoKind).
const LOC_ONE_LINE0 = 10;
const LOC_ONE_LINE2 = 12;
const LOC_NO_COLUMNS = 13;
const LOC_LONG = 14;
const LOC_NONE = 15;

class Truncated extends Error {}

// The location table of 3.11+ (Objects/locations.md). An entry starts with a byte whose top bit is set:
// bits 3-6 its kind, bits 0-2 its length in code units minus one; the bytes after it have the top bit clear.
function decodeLocations(t: Uint8Array, firstLineNo: number): LineTable {
  const ranges: LineRange[] = [];
  let pos = 0;
  let addr = 0;
  let line = firstLineNo;

  const byte = (): number => {
    const b = t[pos];
    if (b === undefined || (b & 0x80) !== 0) throw new Truncated();
    pos++;
    return b;
  };
  // 6-bit chunks, least significant first; bit 6 says another chunk follows.
  const varint = (): number => {
    let b = byte();
    let value = b & 63;
    let scale = 64;
    while ((b & 64) !== 0) {
      b = byte();
      value += (b & 63) * scale;
      scale *= 64;
    }
    return value;
  };
  const svarint = (): number => {
    const u = varint();
    return u % 2 === 1 ? -Math.floor(u / 2) : u / 2;
  };
  const column = (v: number): number | null => (v < 0 ? null : v);

  let damaged = false;
  try {
    while (pos < t.length) {
      const first = t[pos]!;
      if ((first & 0x80) === 0) throw new Truncated();
      pos++;
      const kind = (first >> 3) & 15;
      const start = addr;
      const end = addr + ((first & 7) + 1) * 2;
      if (kind === LOC_NONE) {
        ranges.push({ start, end, line: null, endLine: null, column: null, endColumn: null });
      } else if (kind === LOC_LONG) {
        line += svarint();
        const endLine = line + varint();
        const col = column(varint() - 1);
        const endCol = column(varint() - 1);
        ranges.push({ start, end, line, endLine, column: col, endColumn: endCol });
      } else if (kind === LOC_NO_COLUMNS) {
        line += svarint();
        ranges.push({ start, end, line, endLine: line, column: null, endColumn: null });
      } else if (kind >= LOC_ONE_LINE0 && kind <= LOC_ONE_LINE2) {
        line += kind - LOC_ONE_LINE0;
        const col = byte();
        const endCol = byte();
        ranges.push({ start, end, line, endLine: line, column: col, endColumn: endCol });
      } else {
        // 0-9, the short form: same line; column = kind * 8 + bits 4-6 of the next byte, width in bits 0-3
        const second = byte();
        const col = kind * 8 + ((second >> 4) & 7);
        ranges.push({ start, end, line, endLine: line, column: col, endColumn: col + (second & 15) });
      }
      addr = end;
    }
  } catch (e) {
    if (!(e instanceof Truncated)) throw e;
    damaged = true;
  }
  return new LineTable(ranges, damaged);
}
