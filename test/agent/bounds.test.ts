// Bounded memory per thread: past max_stack_nodes a stream's stack tables start over (STACK_RESET) and
// every allocation still resolves to its whole stack; in aggregated mode the tables stop growing instead
// (CHECKPOINT entries name node ids for the whole session) and stacks end at their longest known prefix.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Allocator } from '../../src/capture/format.js';
import { Oracle } from '../support/agent-oracle.js';
import { bootstrapRun, lineOf, tempDir } from '../support/memlens-run.js';
import { bytearraySize, corePythons, label, objectSlack } from '../support/pythons.js';

// SIDE allocates between the calls, at another line of the module: the next stack then shares no prefix
// with the previous one and must find its nodes in the (full) table.
const MANY = `KEEP = []


def f(depth, i):
    if depth == 0:
        KEEP.append(bytearray(100_000 + i))  # LEAF
        return
    f(depth - 1, i)  # REC


for i in range(300):
    f(i % 40, i)  # TOP
    KEEP.append(bytearray(50_000 + i))  # SIDE
`;

for (const py of corePythons()) {
  describe(`bounded stack tables under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);

    test('STACK_RESET: ids start over and every stack still resolves', async () => {
      const r = await bootstrapRun(
        { python: py.python, files: { 'many.py': MANY }, target: { kind: 'script', path: 'many.py', args: [] }, config: { max_stack_nodes: 64, native: true }, output: 'reset.mlens' },
        tmp.dir,
      );
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      assert.deepEqual(o.warnings, []);
      assert.ok(o.records('stack-reset').length >= 3, `${o.records('stack-reset').length} resets`);
      for (let i = 0; i < 300; i++) {
        const found = o.allocs.filter((a) => a.size === bytearraySize(py, 100_000 + i));
        assert.equal(found.length, 1);
        const stack = o.stack(found[0]!);
        const d = i % 40;
        assert.equal(stack.length, d + 2, `allocation ${i}`);
        assert.equal(stack[0]?.line, lineOf(MANY, '# LEAF'));
        for (let k = 1; k <= d; k++) assert.equal(stack[k]?.line, lineOf(MANY, '# REC'));
        assert.deepEqual([stack[d + 1]?.function, stack[d + 1]?.line], ['<module>', lineOf(MANY, '# TOP')]);
        assert.ok(found[0]!.nativeStack > 0);
      }
      const maxId = Math.max(...o.records('frame').map((f) => f.id));
      assert.ok(maxId <= 64, `node ids stay within the bound: ${maxId}`);
    });

    test('aggregated: no reset, stacks cut at their longest known prefix, bytes all counted', async () => {
      const r = await bootstrapRun(
        { python: py.python, files: { 'many.py': MANY }, target: { kind: 'script', path: 'many.py', args: [] }, config: { max_stack_nodes: 64, aggregate: true }, output: 'agg.mlens' },
        tmp.dir,
      );
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      assert.equal(o.records('stack-reset').length, 0);
      assert.ok(Math.max(...o.records('frame').map((f) => f.id)) <= 64);
      let total = 0;
      let full = 0;
      for (const e of o.checkpointState().locations.values()) {
        // pymalloc's arenas (mmap, 256 KiB to 1 MiB) mapped while many.py runs are rightly attributed to
        // it, but would hide whether the bytes below are counted exactly: leave them out.
        if (e.allocator === (Allocator.Mmap as number)) continue;
        const stack = o.stackOfNode(e.stream, e.stack);
        if (stack[0]?.line === lineOf(MANY, '# LEAF')) full += e.liveBytes;
        if (stack.some((f) => f.file.endsWith('many.py'))) total += e.liveBytes;
      }
      let expected = 0;
      for (let i = 0; i < 300; i++) expected += bytearraySize(py, 100_000 + i) + bytearraySize(py, 50_000 + i);
      assert.ok(total >= expected && total < expected + 65536 + objectSlack(py, 300), `${total} bytes attributed to many.py, ${expected} allocated`);
      assert.ok(full > 0 && full < expected, 'some stacks are whole, the deepest are cut');
    });
  });
}
