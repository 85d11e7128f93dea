// The agent inside real CPythons (every version in .cache/pythons.json): known allocations made through
// bytearray, list, numpy and ctypes' malloc show their sizes at the right Python line, frees match their
// allocations, and the peak holds what was live at it.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { bytesAt, Oracle, type OracleAlloc } from '../support/agent-oracle.js';
import { lineOf, memlensRun, tempDir } from '../support/memlens-run.js';
import { bytearraySize, label, testPythons } from '../support/pythons.js';
import { ALLOC_PROG } from './programs.js';

/** Bytes per line of prog.py, taking each allocation's innermost frame in prog.py (numpy's own frames sit below). */
function progKey(o: Oracle): (a: OracleAlloc) => string | undefined {
  return (a) => {
    const f = o.stack(a).find((fr) => fr.file.endsWith('prog.py'));
    return f === undefined ? undefined : `prog.py:${f.line ?? '?'}`;
  };
}

for (const py of testPythons()) {
  describe(`allocations under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);
    let o: Oracle;
    const L = (m: string) => lineOf(ALLOC_PROG, `# ${m}`);

    test('the program runs unchanged', async () => {
      const r = await memlensRun({ python: py.python, files: { 'prog.py': ALLOC_PROG }, program: ['prog.py'] }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      assert.equal(r.stdout, 'ok\n');
      o = await Oracle.load(r.capture);
      assert.deepEqual(o.warnings, []);
      assert.equal(o.header?.pythonVersion, py.version);
      assert.equal(o.records('trailer').length, 1);
      assert.equal(o.records('exit')[0]?.exitCode, 0);
    });

    test('live bytes at the end, per line', () => {
      const live = o.liveAtEnd({ key: progKey(o) });
      const at = (m: string) => bytesAt(live, `prog.py:${L(m)}`);
      // A free-threaded build's objects are recorded too (mimalloc): the bytearray object with its buffer.
      const objects = py.freeThreaded ? 256 : 1;
      const a = at('A');
      const want = bytearraySize(py, 3_000_000);
      assert.ok(a >= want && a < want + objects, `bytearray(3_000_000) holds n + 1 bytes (and a bytes header from 3.15 on): ${a}`);
      assert.ok(at('B') >= 4_000_000 && at('B') < 4_000_000 + 4096, `list of 500_000 pointers: ${at('B')}`);
      assert.ok(at('C') >= 2_500_000 && at('C') < 2_500_000 + 65536, `numpy array of 2.5 MB: ${at('C')}`);
      assert.ok(at('D') >= 1_700_000 && at('D') < 1_700_000 + objects, `ctypes' malloc(1_700_000): ${at('D')}`);
      assert.equal(at('E'), 0, 'the temporary is gone');
      assert.equal(at('F'), 0, "ctypes' free() was seen");
      const tracked = o.liveAtEnd({ domain: 'tracemalloc', key: progKey(o) });
      assert.equal(bytesAt(tracked, `prog.py:${L('C')}`), 2_500_000, 'numpy reports its buffer through PyTraceMalloc_Track');
    });

    test('the allocations carry their whole Python stack', () => {
      const big = o.allocs.filter((a) => a.size === bytearraySize(py, 3_000_000));
      assert.equal(big.length, 1);
      const stack = o.stack(big[0] as OracleAlloc);
      assert.deepEqual(
        stack.map((f) => [f.function, f.line]),
        [
          ['keep_bytearray', L('A')],
          ['main', lineOf(ALLOC_PROG, '    keep_bytearray()')],
          ['<module>', ALLOC_PROG.split('\n').lastIndexOf('main()') + 1],
        ],
      );
      assert.ok(
        stack.every((f) => f.file.endsWith('prog.py')),
        'no bootstrap frames at the root',
      );
    });

    test('frees match allocations, and the peak holds the temporary', () => {
      const temp = o.allocs.filter((a) => a.size === bytearraySize(py, 5_000_000));
      assert.equal(temp.length, 1);
      const t = temp[0] as OracleAlloc;
      const freed = o.frees.filter((f) => f.address === t.address && f.seq > t.seq && f.domain === t.domain);
      assert.ok(freed.length >= 1, 'the temporary bytearray is freed');
      const viaCtypes = o.allocs.filter((a) => a.size === 900_000);
      assert.equal(viaCtypes.length, 1);
      const v = viaCtypes[0] as OracleAlloc;
      assert.ok(
        o.frees.some((f) => f.address === v.address && f.seq > v.seq),
        "ctypes' free(q) is recorded",
      );
      const { byKey } = o.liveAtPeak({ key: progKey(o) });
      const objects = py.freeThreaded ? 256 : 1; // see 'live bytes at the end'
      const e = bytesAt(byKey, `prog.py:${L('E')}`);
      assert.ok(e >= bytearraySize(py, 5_000_000) && e < bytearraySize(py, 5_000_000) + objects, `the peak is while the temporary lives: ${e}`);
      const a = bytesAt(byKey, `prog.py:${L('A')}`);
      assert.ok(a >= bytearraySize(py, 3_000_000) && a < bytearraySize(py, 3_000_000) + objects, `${a}`);
      // seq numbers are unique and start at 1
      const seqs = [...o.allocs, ...o.frees].map((e) => e.seq).sort((a, b) => a - b);
      assert.equal(seqs[0], 1);
      assert.equal(new Set(seqs).size, seqs.length);
    });
  });
}
