// The live attach (no -o) refuses the options that only a capture file can honour, each with a one-line
// error and exit status 2, before it touches the target (a sleeping process that must be left alone).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO_ROOT } from '../support/pythons.js';
import { NODE_FLAGS } from '../../src/util/node-flags.js';

const MEMLENS = join(REPO_ROOT, 'bin', 'memlens.js');
const target = spawn('sleep', ['300'], { stdio: 'ignore' });
after(() => target.kill('SIGKILL'));

const CASES: readonly [readonly string[], RegExp][] = [
  [['--follow-fork'], /^memlens: error: attach: --follow-fork needs -o FILE \(the live view shows one process\)\n$/],
  [['--aggregate'], /^memlens: error: attach: --aggregate needs -o FILE/],
  [['--duration', '3'], /^memlens: error: attach: --duration needs -o FILE/],
];

for (const [args, message] of CASES) {
  test(`attach PID ${args.join(' ')} without -o is refused in one line, the target untouched`, () => {
    const pid = target.pid!;
    const r = spawnSync(process.execPath, [...NODE_FLAGS, MEMLENS, 'attach', String(pid), ...args], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
    // Not stopped, not traced: the target is still sleeping on its own.
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    assert.match(status, /^TracerPid:\s+0$/m);
    assert.match(status, /^State:\s+S/m);
  });
}
