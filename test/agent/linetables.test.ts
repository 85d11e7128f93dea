// On CPython 3.11 and later the agent writes a code object's location table without its columns
// (agent/src/pystack.c, "location tables without columns"): every instruction must still get the line
// CPython gives it (co_lines()), and the table must be smaller than CPython's.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { decodeCapture } from '../../src/capture/decoder.js';
import { LINETABLE_LOCATIONS } from '../../src/capture/format.js';
import type { CodeRecord } from '../../src/capture/records.js';
import { LineTable } from '../../src/model/linetable.js';
import { Collector } from '../support/collect.js';
import { memlensRun, tempDir } from '../support/memlens-run.js';
import { corePythons, label } from '../support/pythons.js';

// Allocations from a module body, functions, a method, comprehensions and expressions over several lines;
// Python allocators traced, so that every one of them allocates in the capture; at the end the program
// writes what CPython says of its own code objects: co_lines() and the table's size.
const PROG = `import json, sys
KEEP = []
def f(n):
    a = [bytearray(100 + i) for i in range(n)]
    b = {i: (i, str(i) * 3,
             [i] * 5) for i in range(n)}
    KEEP.append((a, b))
    return len(a) + len(
        b)
class C:
    def m(self):
        return [bytearray(50) for _ in range(20)]
x = f(10); y = C().m()
z = [bytearray(x) for x in range(30)] if x else None
def dump(code, out):
    out[code.co_qualname] = {"lines": [list(r) for r in code.co_lines()], "size": len(code.co_linetable)}
    for c in code.co_consts:
        if hasattr(c, "co_lines"):
            dump(c, out)
out = {}
dump(compile(open(__file__).read(), __file__, "exec"), out)
json.dump(out, open("lines.json", "w"))
`;

for (const py of corePythons().filter((p) => p.minor >= 11)) {
  describe(`location tables under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);
    test('every instruction keeps its line; the table is smaller', async () => {
      const r = await memlensRun({ python: py.python, files: { 'prog.py': PROG }, program: ['prog.py'], runArgs: ['--trace-python-allocators'] }, tmp.dir);
      assert.equal(r.code, 0, r.stderr);
      const truth = JSON.parse(readFileSync(join(r.dir, 'lines.json'), 'utf8')) as Record<string, { lines: [number, number, number | null][]; size: number }>;
      const c = new Collector();
      decodeCapture(new Uint8Array(readFileSync(r.capture)), c);
      const codes = c.c.items.filter((it): it is CodeRecord => it.type === 'code' && it.filename.endsWith('prog.py'));
      assert.ok(codes.length >= 4, `${codes.length} code objects of prog.py in the capture`);
      let checked = 0;
      for (const code of codes) {
        const t = truth[code.qualname];
        assert.ok(t !== undefined, code.qualname);
        assert.equal(code.linetableKind, LINETABLE_LOCATIONS);
        assert.ok(code.linetable.length < t.size, `${code.qualname}: ${code.linetable.length} bytes against CPython's ${t.size}`);
        const table = LineTable.decode(code.linetableKind, code.linetable, code.firstLineNo);
        assert.equal(table.damaged, false);
        for (const [start, end, line] of t.lines) {
          for (let off = start; off < end; off += 2) {
            const range = table.ranges.find((x) => x.start <= off && off < x.end);
            assert.equal(range?.line ?? null, line, `${code.qualname} at offset ${off}`);
            checked++;
          }
        }
      }
      assert.ok(checked > 100, `${checked} instructions checked`);
    });
  });
}
