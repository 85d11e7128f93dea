// The line resolver reports use: each code object's line table decoded once (model/linetable.ts), then a
// binary search per stack node.

import { CaptureFormatError } from '../errors.js';
import { LineTable } from './linetable.js';
import type { LineResolver } from './stack-resolver.js';

/**
 * A LineResolver backed by the CPython line tables of the CODE records. An empty table gives the code's
 * first line; an instruction CPython itself has no line for gives 0 (shown without a line). A table that
 * does not decode (a kind this memlens does not know) throws its CaptureFormatError at every lookup: the
 * stack resolver counts it and shows the code's first line. Damage inside a table is not an error: the
 * part before it decodes (LineTable.damaged).
 */
export function lineTableResolver(): LineResolver {
  const tables = new Map<number, LineTable | CaptureFormatError | null>();
  return (code, instr) => {
    let t = tables.get(code.codeId);
    if (t === undefined) {
      try {
        t = LineTable.decode(code.linetableKind, code.linetable, code.firstLineNo);
        if (t.ranges.length === 0) t = null;
      } catch (e) {
        if (!(e instanceof CaptureFormatError)) throw e;
        t = e;
      }
      tables.set(code.codeId, t);
    }
    if (t === null) return code.firstLineNo;
    if (t instanceof CaptureFormatError) throw t;
    return t.lineAt(instr) ?? 0;
  };
}
