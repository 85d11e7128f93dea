import assert from 'node:assert/strict';
import { test } from 'node:test';
import { processGroupOf } from './launch.js';

// /proc/PID/stat: pid (comm) state ppid pgrp session tty_nr tpgid ...
test('the program shares memlens process group only when memlens is the foreground job of a terminal', () => {
  assert.equal(processGroupOf('100 (node) S 90 100 90 34816 100 4194560'), 'shared');
  assert.equal(processGroupOf('100 (node) S 90 100 90 34816 77 4194560'), 'own', 'a background job');
  assert.equal(processGroupOf('100 (node) S 90 100 100 0 -1 4194560'), 'own', 'no terminal');
  assert.equal(processGroupOf('100 (a b) c) S 90 100 90 34816 100 0'), 'shared', 'a command name with spaces and parentheses');
  assert.equal(processGroupOf(''), 'own');
});
