// The node command line memlens relaunches itself with (the executable itself, its relaunch, signals and
// job control in a terminal: test/relaunch.test.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasNodeFlags, NODE_FLAGS, nodeArgs } from './node-flags.js';

test('nodeArgs puts NODE_FLAGS first and keeps the other node flags once', () => {
  assert.ok(NODE_FLAGS.includes('--single-threaded-gc') && NODE_FLAGS.includes('--no-concurrent-recompilation'));
  assert.deepEqual(nodeArgs('m.js', ['run', 'x.py'], ['--inspect', '--single-threaded-gc']), [...NODE_FLAGS, '--inspect', 'm.js', 'run', 'x.py']);
  assert.equal(hasNodeFlags([...NODE_FLAGS]), true);
  assert.equal(hasNodeFlags([]), false);
});
