// Hand-built line tables, one feature at a time. test/pyframes/linetable-python.test.ts checks the same
// decoder against thousands of tables compiled by real CPythons.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LINETABLE_310, LINETABLE_LNOTAB, LINETABLE_LOCATIONS } from '../capture/format.js';
import { CaptureFormatError } from '../errors.js';
import { LineTable } from './linetable.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
const s8 = (n: number): number => n & 0xff;

function lines(t: LineTable, upTo: number): (number | null)[] {
  const out: (number | null)[] = [];
  for (let o = 0; o < upTo; o += 2) out.push(t.lineAt(o));
  return out;
}

describe('co_lnotab (3.9)', () => {
  test('an empty table puts everything on the first line', () => {
    const t = LineTable.decode(LINETABLE_LNOTAB, bytes(), 7);
    assert.equal(t.lineAt(0), 7);
    assert.equal(t.lineAt(10_000), 7);
    assert.equal(t.damaged, false);
  });

  test('a line increment applies from the offset its byte increment reaches', () => {
    const t = LineTable.decode(LINETABLE_LNOTAB, bytes(6, 1, 8, 2), 10);
    assert.deepEqual(lines(t, 18), [10, 10, 10, 11, 11, 11, 11, 13, 13]);
  });

  test('jumps of more than 127 lines accumulate over zero-length pairs, and lines go backwards', () => {
    const t = LineTable.decode(LINETABLE_LNOTAB, bytes(0, 127, 0, 127, 4, 10, 2, s8(-128), 2, s8(-100)), 1);
    assert.deepEqual(lines(t, 10), [255, 255, 265, 137, 37]);
  });

  test('a range longer than 255 bytes spans several pairs and is one range', () => {
    const t = LineTable.decode(LINETABLE_LNOTAB, bytes(255, 0, 45, 1), 3);
    assert.equal(t.lineAt(298), 3);
    assert.equal(t.lineAt(300), 4);
    assert.deepEqual(
      t.ranges.map((r) => [r.start, r.end, r.line]),
      [
        [0, 300, 3],
        [300, Infinity, 4],
      ],
    );
  });

  test('an odd length is damage; the whole pairs still decode', () => {
    const t = LineTable.decode(LINETABLE_LNOTAB, bytes(2, 1, 9), 1);
    assert.equal(t.damaged, true);
    assert.equal(t.lineAt(2), 2);
  });
});

describe('co_linetable (3.10)', () => {
  test('each pair is a range; -128 is "no line" and leaves the running line alone', () => {
    const t = LineTable.decode(LINETABLE_310, bytes(6, 1, 4, 0, 2, s8(-128), 2, 2), 10);
    assert.deepEqual(lines(t, 14), [11, 11, 11, 11, 11, null, 13]);
    assert.equal(t.lineAt(14), null, 'past the end: no line');
  });

  test('zero-length pairs carry big jumps; deltas may be negative', () => {
    const t = LineTable.decode(LINETABLE_310, bytes(0, 127, 0, 50, 2, 0, 2, s8(-127), 2, s8(-60)), 1);
    assert.deepEqual(lines(t, 6), [178, 51, -9]);
  });

  test('columns are unknown before 3.11', () => {
    assert.deepEqual(LineTable.decode(LINETABLE_310, bytes(2, 1), 1).locationAt(0), { line: 2, endLine: 2, column: null, endColumn: null });
  });
});

describe('location table (3.11+)', () => {
  const entry = (kind: number, units: number): number => 0x80 | (kind << 3) | (units - 1);
  // 6-bit chunks, least significant first, bit 6 = more
  const varint = (n: number): number[] => {
    const out: number[] = [];
    do {
      const chunk = n & 63;
      n = Math.floor(n / 64);
      out.push(n > 0 ? chunk | 64 : chunk);
    } while (n > 0);
    return out;
  };
  const svarint = (n: number): number[] => varint(n < 0 ? (-n << 1) | 1 : n << 1);

  test('every kind of entry', () => {
    const t = LineTable.decode(
      LINETABLE_LOCATIONS,
      bytes(
        entry(2, 2),
        (3 << 4) | 5, // short form: column 2*8+3 = 19, width 5, 2 code units
        entry(11, 1),
        5,
        9, // one line form, line +1, columns 5..9
        entry(12, 1),
        0,
        100, // one line form, line +2 (column bytes < 128, like every byte after the first)
        entry(10, 1),
        7,
        8, // one line form, same line
        entry(13, 1),
        ...svarint(-3), // no columns, line -3
        entry(14, 1),
        ...svarint(200),
        ...varint(2),
        ...varint(301),
        ...varint(311), // long form
        entry(15, 3), // no location, 3 code units
        entry(9, 1),
        (7 << 4) | 15, // short form after "no location": the line before it
        entry(14, 8),
        ...svarint(-5),
        ...varint(0),
        ...varint(0),
        ...varint(0), // long form, columns None
      ),
      100,
    );
    assert.equal(t.damaged, false);
    const at = (o: number): unknown => t.locationAt(o);
    assert.deepEqual(at(0), { line: 100, endLine: 100, column: 19, endColumn: 24 });
    assert.deepEqual(at(2), at(0), 'the entry covers 2 code units');
    assert.deepEqual(at(4), { line: 101, endLine: 101, column: 5, endColumn: 9 });
    assert.deepEqual(at(6), { line: 103, endLine: 103, column: 0, endColumn: 100 });
    assert.deepEqual(at(8), { line: 103, endLine: 103, column: 7, endColumn: 8 });
    assert.deepEqual(at(10), { line: 100, endLine: 100, column: null, endColumn: null });
    assert.deepEqual(at(12), { line: 300, endLine: 302, column: 300, endColumn: 310 });
    for (const o of [14, 16, 18]) assert.deepEqual(at(o), { line: null, endLine: null, column: null, endColumn: null });
    assert.deepEqual(at(20), { line: 300, endLine: 300, column: 79, endColumn: 94 });
    assert.deepEqual(at(22), { line: 295, endLine: 295, column: null, endColumn: null });
    assert.equal(t.lineAt(22 + 14), 295, 'an entry of 8 code units');
    assert.equal(t.lineAt(22 + 16), null, 'past the end');
  });

  test('varints of several chunks: a jump of 100,000 lines and wide columns', () => {
    const t = LineTable.decode(LINETABLE_LOCATIONS, bytes(entry(14, 1), ...svarint(100_000), ...varint(70_000), ...varint(5000), ...varint(5001)), 1);
    assert.deepEqual(t.locationAt(0), { line: 100_001, endLine: 170_001, column: 4999, endColumn: 5000 });
  });

  test('a table cut inside an entry keeps the entries before it', () => {
    const t = LineTable.decode(LINETABLE_LOCATIONS, bytes(entry(13, 1), ...svarint(1), entry(14, 1), ...svarint(4).slice(0, 1), 0x40), 1);
    assert.equal(t.damaged, true);
    assert.equal(t.lineAt(0), 2);
    assert.equal(t.lineAt(2), null);
    assert.equal(t.ranges.length, 1);
  });

  test('a byte that cannot start an entry is damage', () => {
    const t = LineTable.decode(LINETABLE_LOCATIONS, bytes(entry(13, 1), 2, 0x05, entry(13, 1), 2), 1);
    assert.equal(t.damaged, true);
    assert.equal(t.ranges.length, 1);
  });

  test('lookups find the right one of many ranges', () => {
    const table: number[] = [];
    for (let i = 0; i < 1000; i++) table.push(entry(13, 1 + (i % 8)), ...svarint(1));
    const t = LineTable.decode(LINETABLE_LOCATIONS, Uint8Array.from(table), 0);
    let offset = 0;
    for (let i = 0; i < 1000; i++) {
      const units = 1 + (i % 8);
      for (let u = 0; u < units; u++, offset += 2) assert.equal(t.lineAt(offset), i + 1);
    }
    assert.equal(t.lineAt(offset), null);
    assert.equal(t.lineAt(-2), null);
  });
});

test('an unknown kind is a capture format error that says what to do', () => {
  assert.throws(
    () => LineTable.decode(4, bytes(), 1),
    (e: unknown) => {
      assert.ok(e instanceof CaptureFormatError);
      assert.match(e.message, /unknown line table kind 4/);
      assert.match(e.hint ?? '', /newer memlens/);
      return true;
    },
  );
});

test('lineFor decodes and looks up once', () => {
  assert.equal(LineTable.lineFor(LINETABLE_310, bytes(4, 3), 1, 2), 4);
});
