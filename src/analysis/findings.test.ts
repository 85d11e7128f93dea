// Each finding fires on a capture written to show its pattern, with the evidence it should carry, and
// stays silent just below its threshold and on sensible programs. Captures are written with the encoder.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { analyze, type FrameSpec, MiB, ProgramCapture, SEC } from '../../test/support/program-capture.js';
import type { Finding } from './findings.js';
import { FORK_CHURN_MIN, GROWTH_MIN_EVENTS, MANY_THREADS_MIN, THREAD_CHURN_MIN } from './findings.js';

const MAIN: FrameSpec = ['<module>', 1];
const ms = 1_000_000;

function kinds(list: readonly Finding[]): string[] {
  return list.map((f) => f.kind).sort();
}

function only<K extends Finding["kind"]>(list: readonly Finding[], kind: K): Finding & { kind: K } {
  const f = list.find((x) => x.kind === kind);
  assert.ok(f !== undefined, `no ${kind} finding among ${kinds(list).join(', ') || 'none'}`);
  return f as Finding & { kind: K };
}

/** A run of `seconds`, a snapshot every 100 ms, `between(t)` called before each snapshot. */
function run(p: ProgramCapture, seconds: number, between: (t: number) => void): void {
  for (let t = 0; t <= seconds * SEC; t += 100 * ms) {
    between(t);
    p.snapshot(t);
  }
}

describe('large objects kept alive after their maker returned', () => {
  const load: FrameSpec[] = [MAIN, ['main', 10], ['load_table', 20]];
  const work: FrameSpec[] = [MAIN, ['main', 10], ['work', 30]];

  test('fires with the maker, the bytes, when it returned and how long they outlived it', () => {
    const p = new ProgramCapture();
    p.thread(1, 100, 'MainThread', 0);
    run(p, 3, (t) => {
      if (t === 100 * ms) for (let i = 0; i < 2; i++) p.alloc(1, load, 8 * MiB);
      if (t >= 200 * ms) p.free(1, p.alloc(1, work, 4096)); // main moved on: load_table had returned
    });
    const { verdict, model } = analyze(p.finish());
    const f = only(verdict.findings, 'large-objects-kept');
    assert.equal(f.bytes, 16 * MiB);
    const item = f.items[0];
    assert.ok(item !== undefined);
    assert.equal(model.frames.frame(item.maker).function, 'load_table');
    assert.equal(item.count, 2);
    assert.equal(item.liveAtEndCount, 2);
    assert.equal(item.firstAllocNs, 0); // the last snapshot before it: t = 0
    assert.equal(item.makerReturnedNs, 100 * ms); // the first allocation outside it, after the t = 100 ms snapshot
    assert.equal(item.outlivedNs, 2.9 * SEC);
  });

  test('silent without evidence that the maker returned (no later allocation outside it)', () => {
    const p = new ProgramCapture();
    run(p, 3, (t) => {
      if (t === 100 * ms) p.alloc(1, load, 16 * MiB);
      if (t >= 200 * ms) p.free(1, p.alloc(1, load, 4096)); // still inside load_table
    });
    assert.deepEqual(kinds(analyze(p.finish()).verdict.findings), []);
  });

  test('silent below 4 MiB, at module level, and when freed promptly', () => {
    const p = new ProgramCapture();
    run(p, 3, (t) => {
      if (t === 100 * ms) {
        p.alloc(1, load, 3 * MiB); // too small
        p.alloc(1, [MAIN], 32 * MiB); // module level
        const prompt = p.alloc(1, [MAIN, ['main', 10], ['scratch', 40]], 32 * MiB);
        p.free(1, p.alloc(1, work, 4096));
        p.free(1, prompt); // freed within the same snapshot interval
      }
      if (t >= 200 * ms) p.free(1, p.alloc(1, work, 4096));
    });
    assert.deepEqual(kinds(analyze(p.finish()).verdict.findings), []);
  });

  test('silent when it did not outlive its maker for long (the run goes on only briefly)', () => {
    const p = new ProgramCapture();
    run(p, 0.4, (t) => {
      if (t === 0) p.alloc(1, load, 16 * MiB);
      if (t >= 100 * ms) p.free(1, p.alloc(1, work, 4096));
    });
    assert.deepEqual(kinds(analyze(p.finish()).verdict.findings), []);
  });
});

describe('repeated growth of a collection', () => {
  const grow: FrameSpec[] = [MAIN, ['build', 7]];
  function growth(steps: number, last: number): Uint8Array {
    const p = new ProgramCapture();
    let addr = p.alloc(1, grow, 1024);
    for (let i = 1; i <= steps; i++) addr = p.realloc(1, grow, addr, Math.round(1024 + ((last - 1024) * i) / steps));
    p.snapshot(SEC);
    return p.finish();
  }

  test(`fires at ${GROWTH_MIN_EVENTS} growths reaching 1 MiB, naming the line`, () => {
    const { verdict, model } = analyze(growth(GROWTH_MIN_EVENTS, 2 * MiB));
    const f = only(verdict.findings, 'collection-growth');
    const item = f.items[0];
    assert.ok(item !== undefined);
    assert.equal(model.frames.frame(item.line).function, 'build');
    assert.equal(item.growths, GROWTH_MIN_EVENTS);
    assert.equal(item.maxBytes, 2 * MiB);
    assert.ok(item.copiedBytes > 30 * MiB && item.copiedBytes < 34 * MiB, `copied ${item.copiedBytes}`);
  });

  test('silent with one growth fewer, or below 1 MiB', () => {
    assert.deepEqual(kinds(analyze(growth(GROWTH_MIN_EVENTS - 1, 2 * MiB)).verdict.findings), []);
    assert.deepEqual(kinds(analyze(growth(200, MiB - 4096)).verdict.findings), []);
  });

  test('mallocs after smaller frees are not growths: only realloc sites count', () => {
    const p = new ProgramCapture();
    let addr = p.alloc(1, grow, 1024);
    for (let i = 1; i <= 100; i++) {
      p.free(1, addr);
      addr = p.alloc(1, grow, 1024 + i * 64 * 1024);
    }
    p.snapshot(SEC);
    assert.deepEqual(kinds(analyze(p.finish()).verdict.findings), []);
  });
});

describe('reference cycles freed by the collector', () => {
  function cycles(mib: number): Uint8Array {
    const p = new ProgramCapture();
    const node: FrameSpec[] = [MAIN, ['churn', 12], ['Node.__init__', 7]];
    const bufs: number[] = [];
    for (let i = 0; i < mib; i++) bufs.push(p.alloc(1, node, MiB));
    const other = p.alloc(1, [MAIN, ['other', 30]], 8 * MiB);
    p.free(1, other); // freed by reference counting, before the collection starts
    const start = p.seq + 1;
    for (const b of bufs) p.free(1, b);
    p.gc(1, 50 * ms, 0, mib * 3, 2 * ms, start);
    p.snapshot(100 * ms);
    return p.finish();
  }

  test('fires with the bytes the collection freed and the stack that allocated them', () => {
    const { verdict, model } = analyze(cycles(6));
    const f = only(verdict.findings, 'gc-cycles');
    assert.equal(f.bytes, 6 * MiB);
    assert.equal(f.allocations, 6);
    assert.equal(f.collections, 1);
    assert.deepEqual(f.largest, { timeNs: 50 * ms, generation: 0, bytes: 6 * MiB });
    const st = f.stacks[0];
    assert.ok(st !== undefined);
    assert.equal(model.frames.frame(st.frames[st.frames.length - 1] as number).function, 'Node.__init__');
    assert.equal(verdict.gc.bytesFreed, 6 * MiB);
    assert.equal(verdict.gc.generations[0]?.bytesFreed, 6 * MiB);
  });

  test('silent below 4 MiB', () => {
    const { verdict } = analyze(cycles(3));
    assert.deepEqual(kinds(verdict.findings), []);
    assert.equal(verdict.gc.bytesFreed, 3 * MiB);
  });
});

describe('threads and processes', () => {
  function threads(n: number, pooled: boolean): Uint8Array {
    const p = new ProgramCapture();
    p.thread(1, 100, 'MainThread', 0);
    for (let i = 0; i < n; i++) {
      const stream = 2 + i;
      const start = pooled ? 1000 + i : 1000 + i * 100;
      p.thread(stream, 200 + i, `Thread-${i + 1} (task)`, start);
      p.free(stream, p.alloc(stream, [['Thread.run', 990, '/usr/lib/python3.12/threading.py'], ['task', 5]], 8192));
      p.threadExit(stream, pooled ? 10_000_000 + i : start + 50);
    }
    p.snapshot(20 * ms);
    return p.finish();
  }

  test(`a thread per task: fires at ${THREAD_CHURN_MIN} threads started after another ended, naming what they ran`, () => {
    const { verdict, model } = analyze(threads(THREAD_CHURN_MIN + 1, false));
    const f = only(verdict.findings, 'thread-churn');
    assert.equal(f.threads.started, THREAD_CHURN_MIN + 1);
    assert.equal(f.threads.replacements, THREAD_CHURN_MIN);
    assert.equal(f.threads.maxAlive, 2);
    const entry = f.threads.entries[0];
    assert.ok(entry !== undefined);
    assert.equal(model.frames.frame(entry.frame).function, 'task');
    assert.equal(entry.threads, THREAD_CHURN_MIN + 1);
  });

  test('silent one thread below, and for a pool (all start before any ends)', () => {
    assert.deepEqual(kinds(analyze(threads(THREAD_CHURN_MIN, false)).verdict.findings), []);
    assert.deepEqual(kinds(analyze(threads(40, true)).verdict.findings), []);
  });

  test(`many threads at once: fires at ${MANY_THREADS_MIN}`, () => {
    const f = only(analyze(threads(MANY_THREADS_MIN, true)).verdict.findings, 'many-threads');
    assert.equal(f.threads.maxAlive, MANY_THREADS_MIN + 1);
    assert.deepEqual(kinds(analyze(threads(MANY_THREADS_MIN - 2, true)).verdict.findings), []);
  });

  function forks(n: number): Uint8Array {
    const p = new ProgramCapture();
    p.free(1, p.alloc(1, [MAIN], 100));
    for (let i = 0; i < n; i++) p.fork(1, (i + 1) * ms, 5000 + i);
    p.snapshot(100 * ms);
    return p.finish();
  }

  test(`a process per task: fires at ${FORK_CHURN_MIN} forks, silent below`, () => {
    const f = only(analyze(forks(FORK_CHURN_MIN)).verdict.findings, 'process-churn');
    assert.equal(f.forks, FORK_CHURN_MIN);
    assert.equal(f.firstNs, ms);
    assert.equal(f.lastNs, FORK_CHURN_MIN * ms);
    assert.deepEqual(f.childPids, [5000, 5001, 5002, 5003, 5004]);
    assert.deepEqual(kinds(analyze(forks(FORK_CHURN_MIN - 1)).verdict.findings), []);
  });
});

test('a sensible program gets no finding: buffers freed, one growth, a pool, a small cycle', () => {
  const p = new ProgramCapture();
  p.thread(1, 100, 'MainThread', 0);
  const proc: FrameSpec[] = [MAIN, ['main', 10], ['process', 20]];
  const table = p.alloc(1, [MAIN, ['main', 8]], 32 * MiB); // main keeps it, and main keeps running
  for (let w = 0; w < 4; w++) p.thread(2 + w, 200 + w, `worker-${w}`, 1000 + w);
  run(p, 2, () => {
    for (let w = 0; w < 4; w++) p.free(2 + w, p.alloc(2 + w, [['worker', 3], ['process', 20]], 4 * MiB));
    let a = p.alloc(1, proc, 1024);
    a = p.realloc(1, proc, a, 2048);
    p.free(1, a);
    const start = p.seq + 1;
    p.free(1, p.alloc(1, proc, 1000));
    p.gc(1, 0, 0, 5, 10_000, start);
  });
  for (let w = 0; w < 4; w++) p.threadExit(2 + w, 2 * SEC);
  p.free(1, table);
  const { verdict } = analyze(p.finish());
  assert.deepEqual(kinds(verdict.findings), []);
});
