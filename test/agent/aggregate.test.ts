// --aggregate: no ALLOC/FREE records; CHECKPOINT records whose last state gives the same live bytes per
// line, at the end and at the peak, as the full capture does; a SIGKILL leaves what was recorded up to
// 100 ms before it (checkpoints every 50 ms), also in the program's first second.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Oracle } from '../support/agent-oracle.js';
import { lineOf, memlensRun, tempDir } from '../support/memlens-run.js';
import { assertBytes, bytearraySize, corePythons, label, objectSlack } from '../support/pythons.js';
import { OPTION_AGGREGATE, OPTION_GC_START, OPTION_PYTHON_ALLOCATORS } from '../../src/capture/format.js';
import { ALLOC_PROG } from './programs.js';

/** Bytes per prog.py line from the last checkpoint state: live at the end, and each location's share of the peak. */
function perLine(o: Oracle): { end: Map<number, number>; peak: Map<number, number>; tracked: Map<number, number> } {
  const st = o.checkpointState();
  const end = new Map<number, number>();
  const peak = new Map<number, number>();
  const tracked = new Map<number, number>();
  for (const e of st.locations.values()) {
    const f = o.stackOfNode(e.stream, e.stack).find((fr) => fr.file.endsWith('prog.py'));
    if (f?.line === null || f === undefined) continue;
    if (e.allocator === 12) {
      tracked.set(f.line, (tracked.get(f.line) ?? 0) + e.liveBytes);
      continue;
    }
    end.set(f.line, (end.get(f.line) ?? 0) + e.liveBytes);
    const share = e.updatedSeq <= st.peakSeq ? e.liveBytes : e.savedPeakBytes;
    peak.set(f.line, (peak.get(f.line) ?? 0) + share);
  }
  return { end, peak, tracked };
}

const SLOW = `import os, time
KEEP = [bytearray(6_666_666)]  # KEPT
print("ready", os.getpid(), flush=True)
time.sleep(60)
`;

for (const py of corePythons()) {
  describe(`aggregated mode under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);
    const L = (m: string): number => lineOf(ALLOC_PROG, `# ${m}`);

    test('checkpoints give the live bytes per line at the end and at the peak', async () => {
      const r = await memlensRun({ python: py.python, files: { 'prog.py': ALLOC_PROG }, program: ['prog.py'], output: 'agg.mlens', runArgs: ['--aggregate'] }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      assert.deepEqual(o.warnings, []);
      // A free-threaded build's mimalloc domains are traced in every mode, and the header says so.
      assert.equal(o.header?.options, OPTION_AGGREGATE | OPTION_GC_START | (py.freeThreaded ? OPTION_PYTHON_ALLOCATORS : 0));
      assert.equal(o.allocs.length + o.frees.length, 0, 'no ALLOC or FREE records');
      assert.ok(o.records('frame').length > 0, 'stacks are still defined by FRAME records');
      const { end, peak, tracked } = perLine(o);
      const slack = objectSlack(py);
      assertBytes(end.get(L('A')), bytearraySize(py, 3_000_000), slack, 'bytearray');
      const b = end.get(L('B')) ?? 0;
      assert.ok(b >= 4_000_000 && b < 4_000_000 + 4096, `list: ${b}`);
      const c = end.get(L('C')) ?? 0;
      assert.ok(c >= 2_500_000 && c < 2_500_000 + 65536, `numpy: ${c}`);
      assertBytes(end.get(L('D')), 1_700_000, slack, "ctypes' malloc");
      assert.equal(end.get(L('E')) ?? 0, 0);
      assert.equal(end.get(L('F')) ?? 0, 0);
      // numpy reports its buffer with PyTraceMalloc_Track too; it came from malloc and counts once, there.
      assert.equal(tracked.get(L('C')) ?? 0, 0, "numpy's PyTraceMalloc_Track of a malloc'ed buffer is not counted again");
      assertBytes(peak.get(L('E')), bytearraySize(py, 5_000_000), slack, 'the temporary was live at the peak');
      assertBytes(peak.get(L('A')), bytearraySize(py, 3_000_000), slack, 'bytearray at the peak');
      const st = o.checkpointState();
      assert.ok(st.peakHeap >= bytearraySize(py, 3_000_000) + 4_000_000 + 2_500_000 + 1_700_000 + bytearraySize(py, 5_000_000));
      const snaps = o.records('snapshot');
      assert.ok(
        snaps.some((s) => s.heap !== undefined && s.heap > 0),
        'snapshots carry the heap',
      );
    });

    test('SIGKILL in the first second: what was recorded well before it is in the file', async () => {
      let pid = 0;
      const r = await memlensRun(
        {
          python: py.python,
          files: { 'slow.py': SLOW },
          program: ['slow.py'],
          output: 'slow.mlens',
          runArgs: ['--aggregate'],
          onStdout: (all) => {
            const m = /ready (\d+)/.exec(all);
            if (m !== null && pid === 0) {
              pid = Number(m[1]);
              // Well inside the program's first second (checkpoints were once a second apart, and a program
              // killed this early left no attribution at all); 400 ms leave a loaded machine's service
              // thread time for its 50 ms round.
              setTimeout(() => process.kill(pid, 'SIGKILL'), 400);
            }
          },
        },
        tmp.dir,
      );
      assert.equal(r.signal, 'SIGKILL');
      const o = await Oracle.load(r.capture);
      assert.ok(o.records('checkpoint').length >= 1);
      const want = bytearraySize(py, 6_666_666);
      const kept = [...o.checkpointState().locations.values()].filter((e) => e.liveBytes >= want && e.liveBytes <= want + objectSlack(py));
      assert.equal(kept.length, 1);
      assert.equal(o.stackOfNode(kept[0]!.stream, kept[0]!.stack)[0]?.line, lineOf(SLOW, '# KEPT'));
    });
  });
}
