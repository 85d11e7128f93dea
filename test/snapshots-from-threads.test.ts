// The verdict's snapshots do not depend on the agent's service thread getting a CPU: the program's own
// allocating threads take one when the last is stale (agent/src/snapshot.c; docs/agent.md "Snapshots"). Here
// the service thread's sampler never fires after the start (a memory interval of an hour: a configuration only
// a test writes), and the staleness is 20 ms (the default with a 10 ms interval). The program's 4 threads keep
// 1.1 MB buffers, each at least one allocation step of its thread, one every 30 ms at the fastest: whenever a
// thread steps, a snapshot at most 20 ms old exists or is taken then, so a thread's 12 steps give about 12
// distinct snapshots, on any machine (a slow one only stretches the sleeps). Without snapshots from the
// program's threads (main: only the sampler's, at the start and at the end) the climb has no samples and the
// verdict names no accumulation: it failed there on every interpreter. Aggregated (--aggregate), the
// threads' snapshots carry the agent's heap, as the service thread's do.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadModel } from '../src/cli/load-model.js';
import { keepCaptureOnFailure } from './support/failed-capture.js';
import { memoryIo } from './support/memory-io.js';
import { bootstrapRun, lineOf, tempDir } from './support/memlens-run.js';
import { label, REPO_ROOT, testPythons } from './support/pythons.js';
import { NODE_FLAGS } from '../src/util/node-flags.js';

const MEMLENS = join(REPO_ROOT, 'bin', 'memlens.js');
const PROGRAM = join(REPO_ROOT, 'test', 'programs', 'steady_threads.py');
const SOURCE = readFileSync(PROGRAM, 'utf8');
const YOUNG = join(REPO_ROOT, 'test', 'programs', 'young_steps.py');
const tmp = tempDir('memlens-thread-snapshots-');
after(() => tmp.remove());

interface Snapshot {
  readonly type: 'snapshot';
  readonly stream: number;
  readonly seq: number;
  readonly time_ns: number;
  readonly heap?: number;
}

/** The capture's SNAPSHOT records, as `memlens parse --json` prints them (in file order). */
function snapshotsOf(capture: string): Snapshot[] {
  const p = spawnSync(process.execPath, [...NODE_FLAGS, MEMLENS, 'parse', '--json', capture], { encoding: 'utf8', maxBuffer: 1 << 30 });
  assert.equal(p.status, 0, p.stderr);
  return p.stdout
    .split('\n')
    .filter((l) => l.includes('"type":"snapshot"'))
    .map((l) => JSON.parse(l) as Snapshot);
}

interface Finding {
  readonly kind: string;
  readonly items?: readonly { readonly line?: { readonly file: string; readonly line: number; readonly function: string } }[];
}

testPythons().forEach((py, i) => {
  test(`CPython ${label(py)}: the program's threads take the snapshots a late sampler does not, and the verdict sees the climb`, async () => {
    const run = await bootstrapRun(
      {
        python: py.python,
        target: { kind: 'script', path: PROGRAM, args: [] },
        config: { memory_interval_ms: 3_600_000, snapshot_stale_ms: 20 },
        output: `steady-${i}.mlens`,
      },
      tmp.dir,
    );
    assert.equal(run.code, 0, run.stderr);
    await keepCaptureOnFailure(run.capture, `steady-threads-${label(py).replace(/[^\w.]+/g, '_')}`, async () => {
      const snapshots = snapshotsOf(run.capture);
      // The sampler's: at the start (its first round, and the start's own) and at the stop, nothing between.
      assert.ok(snapshots.filter((s) => s.stream === 0).length <= 3, JSON.stringify(snapshots.filter((s) => s.stream === 0)));
      const fromThreads = snapshots.filter((s) => s.stream !== 0);
      // 12 steps of one thread, each with a snapshot of its own within 20 ms before it: 11 from the threads at
      // least (the first may find the start's fresh), 10 less one for each thread preempted for over 10 ms
      // while it took one. 8: a bound no scheduling can break short of 3 such preemptions.
      assert.ok(fromThreads.length >= 8, `${fromThreads.length} snapshots from the program's threads`);
      // In time order their seqs go up too: one lock serializes every snapshot's reading and its seq. A
      // snapshot's seq is the next event's, not one of its own (agent/src/state.h, ml_next_seq), so two with no
      // event between them share one (seen: the start's and a thread's first, 3 ms apart): never a lower one.
      const byTime = [...snapshots].sort((a, b) => a.time_ns - b.time_ns);
      for (let k = 1; k < byTime.length; k++) assert.ok(byTime[k]!.seq >= byTime[k - 1]!.seq, `snapshot ${k}: ${JSON.stringify(byTime.slice(k - 1, k + 1))}`);
      // The reader's series is in time order, those ties included (src/model/snapshots.ts: the orderer hands
      // them over in file order, where the thread's block may come before the service stream's).
      const series = (await loadModel(memoryIo(), run.capture)).snapshots;
      assert.equal(series.seq.length, snapshots.length);
      for (let k = 1; k < series.timeNs.length; k++) {
        assert.ok(series.timeNs[k]! >= series.timeNs[k - 1]!, `series point ${k}: seq ${series.seq[k - 1]} at ${series.timeNs[k - 1]} ns, then seq ${series.seq[k]} at ${series.timeNs[k]} ns`);
      }

      const v = spawnSync(process.execPath, [...NODE_FLAGS, MEMLENS, 'verdict', '--json', run.capture], { encoding: 'utf8', maxBuffer: 1 << 28 });
      assert.equal(v.status, 0, v.stderr);
      const findings = (JSON.parse(v.stdout) as { findings: Finding[] }).findings;
      const accumulation = findings.filter((f) => f.kind === 'accumulation');
      assert.equal(accumulation.length, 1, `an accumulation finding among ${findings.map((f) => f.kind).join(', ') || 'none'}`);
      const line = accumulation[0]!.items?.[0]?.line;
      assert.ok(line !== undefined && line.file.endsWith('steady_threads.py'), JSON.stringify(line));
      assert.equal(line.line, lineOf(SOURCE, '# CAUSE'), `the finding names ${line.function}:${line.line}`);
    });
  });

  test(`CPython ${label(py)}: a young session takes them closer together (a short program's climb has its samples)`, async () => {
    const run = await bootstrapRun(
      {
        python: py.python,
        target: { kind: 'script', path: YOUNG, args: [] },
        config: { memory_interval_ms: 3_600_000, snapshot_stale_ms: 20 },
        output: `young-${i}.mlens`,
      },
      tmp.dir,
    );
    assert.equal(run.code, 0, run.stderr);
    await keepCaptureOnFailure(run.capture, `young-steps-${label(py).replace(/[^\w.]+/g, '_')}`, () => {
      // One a step (20), but a step whose try of the lock found the service thread's last one at the start: 18.
      // With the fixed 20 ms staleness, the steps of the first 200 ms (10-20 ms apart) get one every other step.
      const fromThreads = snapshotsOf(run.capture).filter((s) => s.stream !== 0);
      assert.ok(fromThreads.length >= 18, `${fromThreads.length} snapshots from the program's thread in 20 steps`);
    });
  });

  test(`CPython ${label(py)}, aggregated: the program's threads' snapshots carry the heap`, async () => {
    const run = await bootstrapRun(
      {
        python: py.python,
        target: { kind: 'script', path: PROGRAM, args: [] },
        config: { memory_interval_ms: 3_600_000, snapshot_stale_ms: 20, aggregate: true },
        output: `steady-aggregated-${i}.mlens`,
      },
      tmp.dir,
    );
    assert.equal(run.code, 0, run.stderr);
    await keepCaptureOnFailure(run.capture, `steady-threads-aggregated-${label(py).replace(/[^\w.]+/g, '_')}`, () => {
      const fromThreads = snapshotsOf(run.capture)
        .filter((s) => s.stream !== 0)
        .sort((a, b) => a.seq - b.seq);
      assert.ok(fromThreads.length >= 8, `${fromThreads.length} snapshots from the program's threads`);
      // Without ALLOC records the reader has only the agent's heap (its atomic counter), read at the snapshot.
      const heaps = fromThreads.map((s) => s.heap ?? NaN);
      for (let k = 1; k < heaps.length; k++) assert.ok(heaps[k]! >= heaps[k - 1]! - 1_000_000, `the heap only grows while the threads keep: ${heaps.join(', ')}`);
      // When the last thread steps for the last time, the other threads' buffers are made, all but those of
      // the 20 ms before (one a thread at most): 44 of the 48 buffers of 1.1 MB are in a snapshot of then, or
      // fewer if the thread taking it was preempted while it held the lock. 36: 3 a thread missing.
      assert.ok(Math.max(...heaps) >= 36 * 1_100_000, `the largest heap: ${Math.max(...heaps)}`);
    });
  });
});
