// The line resolver's kept form of a line table (LineSpans) answers as the LineTable it was made from.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type LineRange, LineTable } from './linetable.js';
import { LineSpans } from './lines.js';

test('LineSpans answers every offset as LineTable.lineAt(offset) ?? 0, with adjacent ranges of a line merged', () => {
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  for (let round = 0; round < 200; round++) {
    const ranges: LineRange[] = [];
    let at = rand(3) * 2;
    let line = 1 + rand(5);
    const n = 1 + rand(40);
    for (let i = 0; i < n; i++) {
      const end = i === n - 1 && rand(3) === 0 ? Infinity : at + 2 + rand(4) * 2;
      // Often the line of the range before (3.11 splits a line by columns), sometimes none, sometimes 0.
      const pick = rand(10);
      const l = pick < 5 ? line : pick === 5 ? null : pick === 6 ? 0 : (line = line + rand(7) - 2);
      ranges.push({ start: at, end, line: l, endLine: l, column: null, endColumn: null });
      if (end === Infinity) break;
      at = end + (rand(6) === 0 ? 2 : 0); // now and then a gap no range covers
    }
    const table = new LineTable(ranges, false);
    const spans = LineSpans.of(ranges);
    assert.ok(spans.length <= ranges.length);
    const last = ranges[ranges.length - 1]!;
    const top = (last.end === Infinity ? last.start : last.end) + 6;
    for (let o = 0; o <= top; o++) assert.equal(spans.lineAt(o), table.lineAt(o) ?? 0, `round ${round}, offset ${o}`);
    if (last.end === Infinity) assert.equal(spans.lineAt(2 ** 31), table.lineAt(2 ** 31) ?? 0);
  }
  // Three ranges of one line, then one of none, then the line again: three spans.
  const r = (start: number, end: number, line: number | null): LineRange => ({ start, end, line, endLine: line, column: null, endColumn: null });
  const merged = LineSpans.of([r(0, 2, 7), r(2, 6, 7), r(6, 8, 7), r(8, 10, null), r(10, 12, 7)]);
  assert.equal(merged.length, 3);
  assert.deepEqual(
    [0, 5, 7, 8, 9, 10, 11, 12].map((o) => merged.lineAt(o)),
    [7, 7, 7, 0, 0, 7, 7, 0],
  );
  // A gap between two ranges of the same line is not merged over.
  assert.deepEqual(
    [1, 2, 3].map((o) => LineSpans.of([r(0, 2, 4), r(3, 5, 4)]).lineAt(o)),
    [4, 0, 4],
  );
});
