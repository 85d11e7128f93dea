// Fires on a thread per task and on many threads at once, naming what they ran, and stays silent one
// below and for a pool. Captures are written with the encoder.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kinds, ms, only } from '../../../test/support/findings.js';
import { analyze, ProgramCapture } from '../../../test/support/program-capture.js';
import { MANY_THREADS_MIN, THREAD_CHURN_MIN } from './thread-churn.js';

describe('threads created over and over, or many at once', () => {
  function threads(n: number, pooled: boolean): Uint8Array {
    const p = new ProgramCapture();
    p.thread(1, 100, 'MainThread', 0);
    for (let i = 0; i < n; i++) {
      const stream = 2 + i;
      const start = pooled ? 1000 + i : 1000 + i * 100;
      p.thread(stream, 200 + i, `Thread-${i + 1} (task)`, start);
      p.free(
        stream,
        p.alloc(
          stream,
          [
            ['Thread.run', 990, '/usr/lib/python3.12/threading.py'],
            ['task', 5],
          ],
          8192,
        ),
      );
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
    assert.ok(entry !== undefined && entry.frame !== -1);
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
});
