// The line resolver reports use: each code object's line table decoded once (model/linetable.ts), then a
// binary search per stack node.

import type { LineResolver } from './stack-resolver.js';
import { LineTable } from './linetable.js';

/**
 * A LineResolver backed by the CPython line tables of the CODE records. A table that does not decode
 * (damaged, or of a kind this memlens does not know) or that is empty gives the code's first line; an
 * instruction CPython itself has no line for gives 0 (shown without a line).
 */
export function lineTableResolver(): LineResolver {
  const tables = new Map<number, LineTable | null>();
  return (code, instr) => {
    let t = tables.get(code.codeId);
    if (t === undefined) {
      try {
        t = LineTable.decode(code.linetableKind, code.linetable, code.firstLineNo);
        if (t.ranges.length === 0) t = null;
      } catch {
        t = null;
      }
      tables.set(code.codeId, t);
    }
    if (t === null) return code.firstLineNo;
    return t.lineAt(instr) ?? 0;
  };
}
