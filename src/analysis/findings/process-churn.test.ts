// Fires on a process forked per task, with the evidence, and stays silent one below. Captures are written
// with the encoder.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kinds, MAIN, ms, only } from '../../../test/support/findings.js';
import { analyze, ProgramCapture } from '../../../test/support/program-capture.js';
import { FORK_CHURN_MIN } from './process-churn.js';

describe('processes forked over and over', () => {
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
