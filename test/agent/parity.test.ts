// `memlens run` runs the program as python3 does: the same sys.argv, sys.path[0], __main__, output,
// exit status and traceback, for scripts, -m modules, -c code and directories with __main__.py. Each case
// runs under plain python3 and under memlens, and the two must agree.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type Finished, finished, memlensRun, tempDir } from '../support/memlens-run.js';
import { corePythons, label } from '../support/pythons.js';

const SHOW = `import json, sys
g = globals()
print(json.dumps({
    "argv": sys.argv,
    "path0": sys.path[0],
    "name": __name__,
    "file": g.get("__file__"),
    "globals": sorted(k for k in g if k != "json" and k != "sys" and k != "g"),
    "spec": None if __spec__ is None else __spec__.name,
    "loader": type(g.get("__loader__")).__name__,
    "package": __package__,
}))
`;

const FAIL = `def inner():
    raise ValueError("boom")


def outer():
    inner()


print("before")
outer()
`;

function plainPython(python: string, args: readonly string[], cwd: string, stdin?: string): Promise<Finished> {
  const child = spawn(python, args, { cwd, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (stdin !== undefined) child.stdin?.end(stdin);
  return finished(child);
}

for (const py of corePythons()) {
  describe(`python3 parity under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);
    mkdirSync(join(tmp.dir, 'sub'));
    mkdirSync(join(tmp.dir, 'app'));
    writeFileSync(join(tmp.dir, 'sub', 'show.py'), SHOW);
    writeFileSync(join(tmp.dir, 'showmod.py'), SHOW);
    writeFileSync(join(tmp.dir, 'app', '__main__.py'), SHOW);
    writeFileSync(join(tmp.dir, 'fail.py'), FAIL);

    const cases: [string, string[]][] = [
      ['a script in a subdirectory', ['sub/show.py', 'a', '--flag', 'b c']],
      ['-m module', ['-m', 'showmod', 'x', '-v']],
      ['-c code', ['-c', SHOW, 'arg1', '-x']],
      ['a directory with __main__.py', ['app', 'q']],
      ['an unhandled exception', ['fail.py']],
      ['sys.exit(3)', ['-c', 'import sys; print("bye"); sys.exit(3)']],
      ['SystemExit with a message', ['-c', 'raise SystemExit("fatal: no config")']],
      ['a missing module', ['-m', 'no_such_module_xyz']],
      ['its standard input', ['-c', 'import sys; print(sys.stdin.read().upper(), sys.stdin.isatty())']],
    ];
    for (const [name, args] of cases) {
      test(name, async () => {
        const stdin = name === 'its standard input' ? 'hello\nworld\n' : undefined;
        const plain = await plainPython(py.python, args, tmp.dir, stdin);
        const r = await memlensRun({ python: py.python, program: args, output: `${name.replace(/\W+/g, '-')}.mlens`, ...(stdin !== undefined ? { stdin } : {}) }, tmp.dir);
        assert.equal(r.stdout, plain.stdout);
        assert.equal(r.stderr, plain.stderr);
        assert.equal(r.code, plain.code);
        assert.equal(r.signal, plain.signal);
      });
    }
  });
}
