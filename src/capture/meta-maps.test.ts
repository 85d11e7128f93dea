// The meta records' maps (V8's hidden classes) over a read whose numbers grow past small integers (meta.ts,
// UNSET). A child process: V8's maps are shared by every object literal of the same keys in a process, and the
// records this test writes (or any other test's) would settle them before the decoder makes its own.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CaptureWriter } from './encoder.js';
import { Allocator, Deallocator } from './format.js';

/** `blocks` blocks of 200 events of stream 1, each followed by a GC and a snapshot whose numbers are `big` or small. */
function events(w: CaptureWriter, seq: number, blocks: number, big: boolean): number {
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < 100; i++) {
      const addr = 0x10000 + (i % 64) * 64;
      w.alloc(1, ++seq, addr, 32 + (i % 7), Allocator.Malloc, 0, 0);
      w.free(1, ++seq, addr, 0, Deallocator.Free);
    }
    // Times, sizes and durations that pass 2^30 (1.07 s, 1 GiB) late in a read, as a real program's do.
    const n = big ? 2 ** 31 + b : 1000 + b;
    w.meta({ type: 'gc', stream: 1, seq: ++seq, timeNs: n, generation: b % 3, collected: b, uncollectable: 0, durationNs: n, startSeq: seq - 1 });
    w.meta({
      type: 'snapshot',
      stream: 1,
      seq: ++seq,
      timeNs: n,
      rss: n,
      rssAnon: n,
      rssFile: 7,
      rssShmem: 0,
      swap: big ? n : 0,
      heap: undefined,
      cgroupUsage: undefined,
      cgroupLimit: undefined,
      ownNs: n,
    });
    w.flush(1);
  }
  return seq;
}

// The child: decodes the first part (small numbers) with a small visitor, so that V8 inlines the decoder's
// metaAt() and the visitor's meta() into the records loop, then the second (numbers past 2^30). It prints the
// record kinds whose map changed from one record to the next (compared as each comes, before any access could
// move the earlier one to the new map) and whether recordsAt() was optimized after each part.
const CHILD = `
import { readFileSync } from 'node:fs';
const { CaptureDecoder } = await import(process.argv[1]);
const last = new Map();
const changed = new Set();
function note(m) {
  const prev = last.get(m.type);
  if (prev !== undefined && !%HaveSameMap(prev, m)) changed.add(m.type);
  last.set(m.type, m);
}
%NeverOptimizeFunction(note);
let sum = 0;
const v = {
  alloc: () => undefined,
  free: () => undefined,
  meta: (m) => {
    sum += m.stream + ('seq' in m && m.seq !== undefined ? m.seq : 0) + (m.type === 'gc' ? m.durationNs : 0);
    note(m);
  },
};
const d = new CaptureDecoder(v);
const proto = CaptureDecoder.prototype;
d.feed(readFileSync(process.argv[2]));
const early = (%GetOptimizationStatus(proto.recordsAt) & 16) !== 0;
d.feed(readFileSync(process.argv[3]));
d.end();
const late = (%GetOptimizationStatus(proto.recordsAt) & 16) !== 0;
console.log(JSON.stringify({ warnings: d.warnings, changed: [...changed], early, late, sum: sum > 0 }));
`;

test("meta records keep one map while their numbers pass 2^30, and the records loop that inlines the visitor's meta() stays optimized", () => {
  // A GC record's times or a snapshot's sizes past 2^30 made the record a new map when its fields had been
  // small integers: every function that checked the old one deoptimized ("wrong map"), the records loop too
  // when V8 inlined the orderer's meta() through metaAt() (churn's verdict: 28 compiles of recordsAt against
  // 10; docs/benchmarks.md, "Meta records that keep one map, round twenty-four").
  const w = new CaptureWriter({ header: {}, blockSize: 1024 });
  const seq = events(w, 0, 3000, false);
  w.flushAll();
  const first = w.take();
  events(w, seq, 300, true);
  const second = w.finish();
  const dir = mkdtempSync(join(tmpdir(), 'memlens-meta-maps-'));
  try {
    writeFileSync(join(dir, 'a'), first);
    writeFileSync(join(dir, 'b'), second);
    const decoder = pathToFileURL(join(import.meta.dirname, 'decoder.js')).href;
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', '--input-type=module', '-e', CHILD, decoder, join(dir, 'a'), join(dir, 'b')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { warnings: number; changed: string[]; early: boolean; late: boolean; sum: boolean };
    assert.equal(out.warnings, 0);
    assert.ok(out.sum);
    assert.deepEqual(out.changed, [], 'a meta record kind changed its map during the read');
    assert.ok(out.early, 'recordsAt was not optimized by the first part');
    assert.ok(out.late, 'recordsAt was deoptimized by the records whose numbers passed 2^30');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
