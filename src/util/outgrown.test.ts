import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COLLECT_FROM_BYTES, outgrown } from './outgrown.js';

test('outgrown arrays are given back once enough bytes were outgrown, and the flags are as before', () => {
  const before = process.execArgv.join(' ');
  // An array big enough to be seen in external memory, outgrown and dropped (made in a frame of its own,
  // which has returned when outgrown() runs, as LiveTable's grow() has).
  const made = (): number => new Float64Array(COLLECT_FROM_BYTES / 8).fill(1).byteLength;
  const bytes = made();
  const kept = process.memoryUsage().arrayBuffers;
  assert.ok(kept >= COLLECT_FROM_BYTES);
  outgrown(bytes);
  assert.ok(process.memoryUsage().arrayBuffers <= kept - COLLECT_FROM_BYTES, 'the array was freed');
  assert.equal(process.execArgv.join(' '), before);
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'gc is not exposed to the program');
});
