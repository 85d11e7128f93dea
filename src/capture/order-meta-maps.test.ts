// The orderer's meta path (order.ts: meta(), keyed(), hold()) with a record kind first met late in a read: no
// "wrong map" deoptimization. A child process (as meta-maps.test.ts): V8's maps and the functions' feedback are
// the process's, and another test's records would have settled them before.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CaptureWriter } from './encoder.js';
import { Allocator, Deallocator } from './format.js';

/**
 * `blocks` flush rounds of 100 events of stream 1, each with a GC record and a snapshot, and with `late` also
 * a marker and a pressure record (kinds with a seq), an agent-stats record (one without), and a barrier.
 */
function rounds(w: CaptureWriter, seq: number, blocks: number, late: boolean): number {
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < 50; i++) {
      const addr = 0x10000 + (i % 64) * 64;
      w.alloc(1, ++seq, addr, 32 + (i % 7), Allocator.Malloc, 0, 0);
      w.free(1, ++seq, addr, 0, Deallocator.Free);
    }
    w.meta({ type: 'gc', stream: 1, seq: ++seq, timeNs: 1000 + b, generation: b % 3, collected: b, uncollectable: 0, durationNs: 10, startSeq: seq - 1 });
    const snap = { type: 'snapshot', stream: 1, seq: ++seq, timeNs: 2000 + b, rss: 4096, rssAnon: 4096, rssFile: 7, rssShmem: 0, swap: 0 } as const;
    w.meta({ ...snap, heap: undefined, cgroupUsage: undefined, cgroupLimit: undefined, ownNs: 5 });
    if (late) {
      w.meta({ type: 'marker', stream: 1, seq: ++seq, timeNs: 3000 + b, kind: 0, label: 'late' });
      w.meta({
        type: 'pressure',
        stream: 1,
        seq: ++seq,
        timeNs: 3000 + b,
        source: '/proc/pressure/memory',
        someAvg10: 1,
        someAvg60: 2,
        someAvg300: 3,
        someTotalUs: 4,
        fullAvg10: undefined,
        fullAvg60: undefined,
        fullAvg300: undefined,
        fullTotalUs: undefined,
      });
      w.meta({ type: 'agent-stats', stream: 1, timeNs: 3000 + b, agentMemoryBytes: 1 << 20, streams: 2, droppedEvents: 0, blocksWritten: b });
    }
    w.barrier(++seq);
  }
  return seq;
}

// The child: an orderer in front of a small visitor reads the first part (GC records and snapshots only), so
// that V8 optimizes the orderer's meta(), then the second, where three kinds come for the first time. It prints
// "LATE" between the two; `--trace-deopt` prints each deoptimization (to stdout).
const CHILD = `
import { readFileSync } from 'node:fs';
const { CaptureDecoder } = await import(process.argv[1]);
const { SeqOrderer } = await import(process.argv[2]);
let sum = 0;
const down = {
  alloc: () => undefined,
  free: () => undefined,
  // Named otherwise than the orderer's functions, and reading no field: its own deopts are not looked for.
  meta: function seen() { sum++; },
};
const o = new SeqOrderer(down);
const d = new CaptureDecoder(o);
d.feed(readFileSync(process.argv[3]));
const early = (%GetOptimizationStatus(SeqOrderer.prototype.meta) & 16) !== 0;
console.log('LATE');
d.feed(readFileSync(process.argv[4]));
d.end();
o.end();
console.log(JSON.stringify({ warnings: d.warnings, early, sum: sum > 0 }));
`;

test('a meta record kind first met late in a read does not deoptimize the orderer with a wrong map', () => {
  // The orderer's meta() read `rec.seq` (and hold() `rec.type`) with the maps of the kinds met so far: a kind
  // first met late (churn: pressure and agent-stats at 17 % of the events, the trailer and exit at the end;
  // threads: thread-exit) was a "wrong map" deoptimization each (docs/benchmarks.md, "Meta records that keep
  // one map, round twenty-four", what remains).
  const w = new CaptureWriter({ header: {}, blockSize: 1 << 16 });
  const seq = rounds(w, 0, 3000, false);
  const first = w.take();
  rounds(w, seq, 200, true);
  const second = w.finish();
  const dir = mkdtempSync(join(tmpdir(), 'memlens-order-meta-maps-'));
  try {
    writeFileSync(join(dir, 'a'), first);
    writeFileSync(join(dir, 'b'), second);
    const url = (f: string): string => pathToFileURL(join(import.meta.dirname, f)).href;
    const args = ['--allow-natives-syntax', '--no-concurrent-recompilation', '--trace-deopt', '--input-type=module', '-e', CHILD];
    const r = spawnSync(process.execPath, [...args, url('decoder.js'), url('order.js'), join(dir, 'a'), join(dir, 'b')], { encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    const out = JSON.parse(lines.find((l) => l.startsWith('{"warnings"')) ?? 'null') as { warnings: number; early: boolean; sum: boolean };
    assert.equal(out.warnings, 0);
    assert.ok(out.sum);
    assert.ok(out.early, "the orderer's meta() was not optimized by the first part");
    const late = lines.slice(lines.indexOf('LATE'));
    const wrong = late.filter((l) => l.includes('reason: wrong map') && /<JSFunction (meta|keyed|hold|metaAt|recordsAt) /.test(l));
    assert.deepEqual(wrong, [], 'a wrong-map deoptimization of the meta path at a kind met late');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The child of the next test: an orderer in front of a visitor that does nothing reads 2000 blocks of events
// and then the capture's first barrier, whose release decodes them all (V8 optimizes recordsAt() with the
// orderer's alloc() and freeAt() inlined while it does); hold() sets the watermark after that release.
const FIRST_BARRIER_CHILD = `
import { readFileSync } from 'node:fs';
const { CaptureDecoder } = await import(process.argv[1]);
const { SeqOrderer } = await import(process.argv[2]);
const o = new SeqOrderer({ alloc() {}, free() {}, meta() {} });
const d = new CaptureDecoder(o);
d.feed(readFileSync(process.argv[3]));
const optimized = (%GetOptimizationStatus(CaptureDecoder.prototype.recordsAt) & 16) !== 0;
d.end();
o.end();
console.log(JSON.stringify({ warnings: d.warnings, optimized }));
`;

test("the orderer's first barrier does not deoptimize the records loop that inlines its alloc() and freeAt()", () => {
  // The watermark (wmK) was stored once, by its initializer, until the first barrier: V8 took it for a constant
  // field, and the records loop that read it (the fast path of alloc() and freeAt()) was deoptimized
  // ("code dependencies") when hold() first changed it, early in every read with barriers.
  const w = new CaptureWriter({ header: {}, blockSize: 1 << 16 });
  let seq = 0;
  for (let b = 0; b < 2000; b++) {
    for (let i = 0; i < 50; i++) {
      const addr = 0x10000 + (i % 64) * 64;
      w.alloc(1, ++seq, addr, 32 + (i % 7), Allocator.Malloc, 0, 0);
      w.free(1, ++seq, addr, 0, Deallocator.Free);
    }
    w.flush(1);
  }
  w.barrier(seq + 1);
  const dir = mkdtempSync(join(tmpdir(), 'memlens-order-first-barrier-'));
  try {
    writeFileSync(join(dir, 'a'), w.finish());
    const url = (f: string): string => pathToFileURL(join(import.meta.dirname, f)).href;
    // The reports' inlining budget (src/util/report-flags.ts), under which V8 inlines alloc() and freeAt() into recordsAt().
    const budget = '--max-inlined-bytecode-size-cumulative=2000';
    const args = ['--allow-natives-syntax', '--no-concurrent-recompilation', budget, '--trace-deopt', '--input-type=module', '-e', FIRST_BARRIER_CHILD];
    const r = spawnSync(process.execPath, [...args, url('decoder.js'), url('order.js'), join(dir, 'a')], { encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    const out = JSON.parse(lines.find((l) => l.startsWith('{"warnings"')) ?? 'null') as { warnings: number; optimized: boolean };
    assert.equal(out.warnings, 0);
    const dependent = lines.filter((l) => l.includes('reason: code dependencies') && /<SharedFunctionInfo (recordsAt|alloc|freeAt)>/.test(l));
    assert.deepEqual(dependent, [], 'the records loop or the orderer deoptimized for a field it depended on');
    assert.ok(out.optimized, 'recordsAt was not optimized after the first barrier');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
