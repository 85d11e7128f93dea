import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCommandArgs } from './args.js';
import { runCommand } from './commands/run.js';

test('run: options stop at the script; the script keeps its own options', () => {
  const p = parseCommandArgs(runCommand, ['-q', '--native', 'app.py', '-o', 'x', '--native']);
  assert.equal(p.options['quiet'], true);
  assert.equal(p.options['native'], true);
  assert.equal(p.options['output'], undefined);
  assert.deepEqual(p.positionals, ['app.py', '-o', 'x', '--native']);
});

test('run: -m MODULE and -c CODE end option parsing, as in python3', () => {
  for (const args of [
    ['-q', '-m', 'http.server', '-q', '8000'],
    ['-q', '-mhttp.server', '-q', '8000'],
    ['-q', '--module', 'http.server', '-q', '8000'],
    ['-q', '--module=http.server', '-q', '8000'],
  ]) {
    const p = parseCommandArgs(runCommand, args);
    assert.equal(p.options['module'], 'http.server', args.join(' '));
    assert.deepEqual(p.positionals, ['-q', '8000'], args.join(' '));
  }
  const c = parseCommandArgs(runCommand, ['-o', 'out.mlens', '-c', 'import sys; print(sys.argv)', '-o', 'arg']);
  assert.equal(c.options['code'], 'import sys; print(sys.argv)');
  assert.equal(c.options['output'], 'out.mlens');
  assert.deepEqual(c.positionals, ['-o', 'arg']);
  const nothingAfter = parseCommandArgs(runCommand, ['-m', 'mod']);
  assert.equal(nothingAfter.options['module'], 'mod');
  assert.deepEqual(nothingAfter.positionals, []);
});

test('run: -- ends options', () => {
  const p = parseCommandArgs(runCommand, ['-q', '--', '-weird-name.py', 'a']);
  assert.deepEqual(p.positionals, ['--', '-weird-name.py', 'a']);
});
