// Forks: the parent records FORK; children stop tracking (the file is the parent's) unless --follow-fork,
// which gives each child its own capture, <stem>.<childpid>.mlens, ended by _exit's trailer.

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Oracle } from '../support/agent-oracle.js';
import { lineOf, memlensRun, tempDir } from '../support/memlens-run.js';
import { bytearraySize, corePythons, label } from '../support/pythons.js';
import { FORK_PROG } from './programs.js';

function childPids(stdout: string): number[] {
  const m = /\[0, 0, 0\] \[(\d+), (\d+), (\d+)\]/.exec(stdout);
  assert.ok(m !== null, stdout);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

for (const py of corePythons()) {
  describe(`fork under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);

    test('without --follow-fork: FORK records, no child captures, children untracked', async () => {
      const r = await memlensRun({ python: py.python, files: { 'prog.py': FORK_PROG }, program: ['prog.py'], output: 'nofollow.mlens' }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const pids = childPids(r.stdout);
      const o = await Oracle.load(r.capture);
      assert.deepEqual(o.warnings, []);
      assert.deepEqual(
        o
          .records('fork')
          .map((f) => f.childPid)
          .sort((a, b) => a - b),
        pids,
      );
      assert.equal(o.allocs.filter((a) => a.size === bytearraySize(py, 2_222_222)).length, 1);
      assert.equal(o.allocs.filter((a) => a.size >= bytearraySize(py, 1_500_000) && a.size <= bytearraySize(py, 1_502_000)).length, 0, "the children's allocations are not in the parent's file");
      assert.deepEqual(
        readdirSync(tmp.dir).filter((n) => n.startsWith('nofollow.') && n !== 'nofollow.mlens'),
        [],
      );
      assert.equal(o.records('trailer').length, 1);
    });

    test('with --follow-fork: one capture per child', async () => {
      const r = await memlensRun({ python: py.python, files: { 'prog.py': FORK_PROG }, program: ['prog.py'], output: 'follow.mlens', runArgs: ['--follow-fork'] }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const pids = childPids(r.stdout);
      const parent = await Oracle.load(r.capture);
      assert.deepEqual(
        parent
          .records('fork')
          .map((f) => f.childPid)
          .sort((a, b) => a - b),
        pids,
      );
      // 2: a free-threaded build's mimalloc domains are traced in every mode; 32: GC_START records.
      assert.equal(parent.header?.options, py.freeThreaded ? 50 : 48, 'follow-fork option bit');
      const sizes: number[] = [];
      for (const pid of pids) {
        const path = join(tmp.dir, `follow.${pid}.mlens`);
        const o = await Oracle.load(path);
        assert.deepEqual(o.warnings, []);
        assert.equal(o.header?.pid, pid);
        assert.equal(o.header?.ppid, parent.header?.pid);
        const mine = o.allocs.filter((a) => a.size >= bytearraySize(py, 1_500_000) && a.size <= bytearraySize(py, 1_502_000));
        assert.equal(mine.length, 1, `child ${pid} has its allocation`);
        sizes.push(mine[0]!.size);
        const stack = o.stack(mine[0]!);
        assert.equal(stack[0]?.function, 'child');
        assert.equal(stack[0]?.line, lineOf(FORK_PROG, '# CHILD'));
        const trailer = o.records('trailer');
        assert.equal(trailer.length, 1);
        assert.equal(trailer[0]?.reason, 4, 'multiprocessing children leave through os._exit');
        assert.equal(o.allocs.filter((a) => a.size === bytearraySize(py, 2_222_222)).length, 0, "the parent's allocation is not the child's");
      }
      assert.deepEqual(
        sizes.sort((a, b) => a - b),
        [1_500_000, 1_501_000, 1_502_000].map((n) => bytearraySize(py, n)),
      );
    });
  });
}
