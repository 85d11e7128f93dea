// `memlens run` under CPython 3.14, the first version whose frames and thread states memlens reads only
// through the layout it resolves at run time (agent/src/pyframes.c). The machine's pyenv stops at 3.13;
// 3.14 comes from the Debian sid root the test setup makes (.cache/sid-root). It runs on the host with
// that root's own loader and libraries (and PYTHONHOME pointing into it): the program is an ordinary host
// process to memlens, as a 3.14 installed on the host would be.

import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { containerInfo } from '../support/container.js';
import { Oracle } from '../support/agent-oracle.js';
import { lineOf, memlensRun, tempDir } from '../support/memlens-run.js';

const PROG = `import threading

KEEP = []


def alloc(n):
    KEEP.append(bytearray(n))  # ALLOC


def worker():
    alloc(2_000_001)


t = threading.Thread(target=worker, name="three-fourteen")
t.start()
t.join()
alloc(3_000_001)
print("ok")
`;

describe('memlens run under CPython 3.14 (Debian sid)', () => {
  const tmp = tempDir();
  after(tmp.remove);
  const { root } = containerInfo();
  const python = join(tmp.dir, 'python3.14');
  writeFileSync(
    python,
    `#!/bin/sh\nexec ${root}/lib64/ld-linux-x86-64.so.2 --library-path ${root}/lib/x86_64-linux-gnu:${root}/usr/lib/x86_64-linux-gnu ${root}/usr/bin/python3.14 "$@"\n`,
  );
  chmodSync(python, 0o755);
  const env = { PYTHONHOME: `${root}/usr` };

  for (const runArgs of [[], ['--trace-python-allocators'], ['--native'], ['--aggregate']]) {
    test(`${runArgs.join(' ') || 'default'}: each allocation has its thread, function and line`, async () => {
      const r = await memlensRun({ python, env, files: { 'prog.py': PROG }, program: ['prog.py'], runArgs, output: `p314${runArgs.join('')}.mlens` }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      assert.equal(r.stdout, 'ok\n');
      const o = await Oracle.load(r.capture);
      assert.deepEqual(o.warnings, []);
      assert.match(o.header?.pythonVersion ?? '', /^3\.14\./);
      if (runArgs.includes('--aggregate')) {
        // Locations, not events: both sizes are live at the end, each at its own stack.
        const lines = new Set<string>();
        for (const e of o.checkpointState().locations.values()) {
          const stack = o.stackOfNode(e.stream, e.stack);
          if (stack[0]?.line === lineOf(PROG, '# ALLOC') && e.liveBytes >= 2_000_001) lines.add(stack.map((f) => f.function).join('<'));
        }
        assert.deepEqual([...lines].sort(), ['alloc<<module>', 'alloc<worker<run<_bootstrap_inner<_memlens_bootstrap_inner<_bootstrap']);
        return;
      }
      for (const [size, functions] of [
        [2_000_002, ['alloc', 'worker', 'run', '_bootstrap_inner', '_memlens_bootstrap_inner', '_bootstrap']],
        [3_000_002, ['alloc', '<module>']],
      ] as const) {
        const found = o.allocs.filter((a) => a.size === size);
        assert.equal(found.length, 1, `the ${size}-byte buffer`);
        const stack = o.stack(found[0]!);
        assert.deepEqual(stack.map((f) => f.function), functions);
        assert.equal(stack[0]?.line, lineOf(PROG, '# ALLOC'));
        if (runArgs.includes('--native')) assert.ok(found[0]!.nativeStack > 0);
      }
    });
  }
});
