import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shareColour } from './paint.js';
import { displayPath, truncateLeft } from './text.js';

test('paths, cutting, share colours', () => {
  assert.equal(displayPath('/srv/app/x.py', '/srv/app'), 'x.py');
  assert.equal(displayPath('/usr/lib/x.py', '/srv/app'), '/usr/lib/x.py');
  assert.equal(truncateLeft('abcdef', 4), '…def');
  assert.equal(shareColour(0.7), 'red');
  assert.equal(shareColour(0.3), 'yellow');
  assert.equal(shareColour(0.1), 'green');
  assert.equal(shareColour(0.01), 'brightGreen');
});
