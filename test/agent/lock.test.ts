// The streams' lock (agent/src/lock.h, lock.c): eight threads contend for it, one as the stream's owner by
// its own way in (ml_lock_owner_enter, taking a seq on the way in), the others by ml_lock_acquire; holders
// sometimes stay long enough that waiters sleep on the futex, and takers sometimes sleep inside so that the
// owner comes while they hold it. The count it protects must come out exact, no two holders ever overlap, a
// contended take keeps errno (it runs inside the program's malloc), and a taker's seq read before it takes
// the lock bounds every seq the owner is inside with afterwards (the BARRIER's rule). Built as is and under
// ThreadSanitizer, which must report nothing.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { compile, STRICT_CFLAGS } from '../pyframes/support.js';
import { tempDir } from '../support/memlens-run.js';
import { REPO_ROOT } from '../support/pythons.js';

const tmp = tempDir('memlens-lock-');
after(tmp.remove);
const sources = [join(REPO_ROOT, 'agent', 'test', 'lock_check.c'), join(REPO_ROOT, 'agent', 'src', 'lock.c')];
const builds = [
  ['plain', join(tmp.dir, 'lock_check'), ['-O2']],
  ['ThreadSanitizer', join(tmp.dir, 'lock_check_tsan'), ['-O1', '-g', '-fsanitize=thread']],
] as const;

before(() => {
  for (const [, out, extra] of builds) {
    const r = compile([...STRICT_CFLAGS, ...extra, '-o', out, ...sources]);
    assert.equal(r.status, 0, r.stderr);
  }
});

for (const [name, exe] of builds) {
  test(`the lock under contention (${name})`, () => {
    const r = spawnSync(exe, [], { encoding: 'utf8', env: { ...process.env, TSAN_OPTIONS: 'halt_on_error=1 exitcode=66' } });
    assert.equal(r.stderr, '', r.stderr);
    assert.equal(r.status, 0, r.stdout);
    const m = /^ok (\d+) (\d+) (\d+)$/.exec(r.stdout.trim());
    assert.ok(m !== null, r.stdout);
    // Seven takers' rounds and the owner's, which go on until the takers are done (at least as many).
    assert.ok(Number(m[3]) >= 20000, r.stdout);
    assert.equal(Number(m[1]), 7 * 20000 + Number(m[3]));
    // The test means something only if takes found the lock held.
    assert.ok(Number(m[2]) > 0, r.stdout);
  });
}
