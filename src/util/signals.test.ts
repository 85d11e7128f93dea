import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { test } from 'node:test';
import { signalName, signalNumber } from './signals.js';

test('the fixed table agrees with the signals of the machine the tests run on (Linux)', () => {
  const system = constants.signals as Record<string, number>;
  for (const [name, n] of Object.entries(system)) assert.equal(signalNumber(name), n, name);
  // The first name of each number is the one shown (SIGABRT, not its alias SIGIOT).
  for (const [name, n] of Object.entries(system)) if (Object.keys(system).find((k) => system[k] === n) === name) assert.equal(signalName(n), name);
  assert.equal(signalNumber(null), 0);
  assert.equal(signalNumber('SIGNOPE'), 0);
  assert.equal(signalName(40), 'signal 40');
});
