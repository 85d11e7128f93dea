// src/model/linetable.ts against CPython itself: for thousands of code objects compiled by every installed
// CPython >= 3.9 (edge cases and standard library modules, test/pyframes/linetable_dump.py), the decoder must
// give the line CPython gives for every instruction offset (co_lines() on 3.10+, dis.findlinestarts() on
// 3.9) and, on 3.11+, the same columns as co_positions().
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { LINETABLE_310, LINETABLE_LNOTAB, LINETABLE_LOCATIONS } from '../../src/capture/format.js';
import { LineTable, type SourceLocation } from '../../src/model/linetable.js';
import { label, runPython, SCRIPTS, supportedPythons } from './support.js';

interface DumpedCode {
  file: string;
  name: string;
  firstlineno: number;
  codelen: number;
  table: string;
  linestarts?: [number, number][];
  lines?: [number, number, number | null][];
  positions?: [number | null, number | null, number | null, number | null][];
}

interface Dump {
  version: number[];
  kind: number;
  codes: DumpedCode[];
}

/** CPython's line for every even offset of the code (null: no line). */
function expectedLines(c: DumpedCode): (number | null)[] {
  const out: (number | null)[] = new Array<number | null>(c.codelen >> 1).fill(null);
  if (c.lines !== undefined) {
    for (const [start, end, line] of c.lines) for (let o = start; o < end; o += 2) out[o >> 1] = line;
  } else {
    // findlinestarts: a line holds from its start offset to the next start
    const starts = c.linestarts ?? [];
    for (let i = 0; i < starts.length; i++) {
      const [start, line] = starts[i]!;
      const end = i + 1 < starts.length ? starts[i + 1]![0] : c.codelen;
      for (let o = start; o < end; o += 2) out[o >> 1] = line;
    }
  }
  return out;
}

/** Kinds of the entries of a 3.11+ location table (bits 3-6 of each entry's first byte). */
function entryKinds(table: Uint8Array): Set<number> {
  const kinds = new Set<number>();
  for (const b of table) if ((b & 0x80) !== 0) kinds.add((b >> 3) & 15);
  return kinds;
}

const pythons = supportedPythons();

test('CPythons to check the line tables with are installed', () => {
  assert.ok(pythons.length > 0, 'no CPython >= 3.9 found (pyenv versions or /usr/bin/python3)');
});

for (const p of pythons) {
  test(`line tables of CPython ${label(p)} decode to CPython's own lines and columns`, () => {
    const dump = JSON.parse(runPython(p, [join(SCRIPTS, 'linetable_dump.py')])) as Dump;
    const expectedKind = p.minor === 9 ? LINETABLE_LNOTAB : p.minor === 10 ? LINETABLE_310 : LINETABLE_LOCATIONS;
    assert.equal(dump.kind, expectedKind);
    const mismatches: string[] = [];
    let offsets = 0;
    let positions = 0;
    let noLine = 0;
    for (const c of dump.codes) {
      const table = LineTable.decode(dump.kind, Buffer.from(c.table, 'hex'), c.firstlineno);
      assert.equal(table.damaged, false, `${c.file}:${c.name}: table reported damaged`);
      const want = expectedLines(c);
      for (let i = 0; i < want.length; i++) {
        offsets++;
        const got = table.lineAt(2 * i);
        if (want[i] === null) noLine++;
        if (got !== want[i] && mismatches.length < 20) {
          mismatches.push(`${c.file}:${c.name} (first line ${c.firstlineno}) offset ${2 * i}: decoded ${got}, CPython ${want[i]}`);
        }
      }
      if (c.positions !== undefined) {
        c.positions.forEach(([line, endLine, column, endColumn], i) => {
          positions++;
          const got: SourceLocation = table.locationAt(2 * i);
          const ok = got.line === line && got.endLine === endLine && got.column === column && got.endColumn === endColumn;
          if (!ok && mismatches.length < 20) {
            mismatches.push(`${c.file}:${c.name} offset ${2 * i}: decoded ${JSON.stringify(got)}, co_positions ${JSON.stringify([line, endLine, column, endColumn])}`);
          }
        });
      }
    }
    assert.deepEqual(mismatches, []);
    assert.ok(dump.codes.length > 1000, `only ${dump.codes.length} code objects dumped`);
    assert.ok(offsets > 50_000, `only ${offsets} offsets checked`);
    if (p.minor >= 11) assert.ok(positions === offsets, 'co_positions covers every code unit');
    // The edge cases must reach the paths they are there for.
    const edge = dump.codes.filter((c) => c.file === '<edge cases>');
    const bigJumps = edge.find((c) => c.name === 'big_jumps')!;
    const bigJumpLines = expectedLines(bigJumps).filter((l): l is number => l !== null);
    assert.ok(Math.max(...bigJumpLines) - bigJumps.firstlineno > 70_000, 'a jump of more than 65,535 lines is decoded');
    if (p.minor >= 10) assert.ok(noLine > 0, 'some instructions have no line number');
    if (p.minor >= 11) {
      const kinds = new Set<number>();
      for (const c of edge) for (const k of entryKinds(Buffer.from(c.table, 'hex'))) kinds.add(k);
      for (const k of [0, 10, 11, 13, 14, 15]) assert.ok(kinds.has(k), `edge cases contain location entries of kind ${k}`);
    }
  });
}
