// The line resolver reports use: each code object's line table decoded once (model/linetable.ts), then a
// binary search per stack node.

import { CaptureFormatError } from '../errors.js';
import { type LineRange, LineTable } from './linetable.js';
import type { LineResolver } from './stack-resolver.js';

/**
 * A LineResolver backed by the CPython line tables of the CODE records. An empty table gives the code's
 * first line; an instruction CPython itself has no line for gives 0 (shown without a line). A table that
 * does not decode (a kind this memlens does not know) throws its CaptureFormatError at every lookup: the
 * stack resolver counts it and shows the code's first line. Damage inside a table is not an error: the
 * part before it decodes (LineTable.damaged).
 *
 * Each table is kept as its lines alone (LineSpans), not as the LineTable's objects: a report resolves every
 * node's line at the read's end with every table decoded so far kept, and on numpy_mix (numpy's thousands of
 * code objects) those objects, six fields a range, were the JS heap's rise at `stats`' peak (docs/benchmarks.md,
 * round twenty-three).
 */
export function lineTableResolver(): LineResolver {
  const tables = new Map<number, LineSpans | CaptureFormatError | null>();
  return (code, instr) => {
    let t = tables.get(code.codeId);
    if (t === undefined) {
      try {
        const decoded = LineTable.decode(code.linetableKind, code.linetable, code.firstLineNo);
        t = decoded.ranges.length === 0 ? null : LineSpans.of(decoded.ranges);
      } catch (e) {
        if (!(e instanceof CaptureFormatError)) throw e;
        t = e;
      }
      tables.set(code.codeId, t);
    }
    if (t === null) return code.firstLineNo;
    if (t instanceof CaptureFormatError) throw t;
    return t.lineAt(instr);
  };
}

/**
 * A line table's lines: the ranges of LineTable (sorted, not overlapping) with adjacent ones of the same line
 * merged (3.11's tables split a line by columns), in one Float64Array of (start, end, line) triples (end may
 * be Infinity; line NaN where CPython has none). lineAt() answers as `LineTable.lineAt(offset) ?? 0`.
 */
export class LineSpans {
  private constructor(private readonly spans: Float64Array) {}

  static of(ranges: readonly LineRange[]): LineSpans {
    const out = new Float64Array(ranges.length * 3);
    let n = 0;
    for (const r of ranges) {
      const line = r.line ?? NaN;
      if (n > 0 && out[n - 2] === r.start && Object.is(out[n - 1], line)) out[n - 2] = r.end;
      else {
        out[n] = r.start;
        out[n + 1] = r.end;
        out[n + 2] = line;
        n += 3;
      }
    }
    return new LineSpans(n === out.length ? out : out.slice(0, n));
  }

  /** Ranges held (after merging). */
  get length(): number {
    return this.spans.length / 3;
  }

  /** The line of the instruction at byte offset `offset`; 0 when CPython has none or the table does not cover it. */
  lineAt(offset: number): number {
    const s = this.spans;
    let lo = 0;
    let hi = s.length / 3 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = mid * 3;
      if (offset < s[at]!) hi = mid - 1;
      else if (offset >= s[at + 1]!) lo = mid + 1;
      else {
        const line = s[at + 2]!;
        return line === line ? line : 0;
      }
    }
    return 0;
  }
}
