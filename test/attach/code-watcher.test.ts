// memlens counts code objects' frees with a code watcher from CPython 3.12 on, by wrapping PyCode_Type's
// tp_dealloc before (agent/src/codewatch.c, docs/code-frees.md): added when tracking starts, in `memlens run` and
// `memlens attach`, and taken out when it stops on a GIL build, while the program goes on making and freeing code
// objects. The probe: from 3.12 on, CPython's own test module adds a watcher of its own and returns its id, the
// first free slot: 1 while memlens's holds slot 0, 0 when none is held; before, 1 where PyCode_Type's tp_dealloc
// points into the agent.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { NODE_FLAGS } from '../../src/util/node-flags.js';
import { MEMLENS_BIN, memlensRun, tempDir } from '../support/memlens-run.js';
import { label, testPythons } from '../support/pythons.js';

const tmp = tempDir('memlens-codewatch-');
after(tmp.remove);

/** Prints the slot a new code watcher takes, then frees it; code objects made and freed between probes. */
const PROBE = `import ctypes
import os
import queue
import sys
import threading
import types


def probe():
    if sys.version_info >= (3, 12):
        import _testcapi

        i = _testcapi.add_code_watcher(0)
        _testcapi.clear_code_watcher(i)
        return i
    # Before 3.12: 1 where PyCode_Type's tp_dealloc (after the header, tp_name, tp_basicsize, tp_itemsize) points
    # into memlens's agent, else 0.
    dealloc = ctypes.c_void_p.from_address(id(types.CodeType) + 48).value
    with open("/proc/self/maps") as maps:
        for line in maps:
            span, path = line.split()[0], line.split()[-1]
            lo, hi = (int(x, 16) for x in span.split("-"))
            if lo <= dealloc < hi:
                return 1 if "memlens" in path else 0
    return -1


def churn(n):
    ns = {}
    exec(compile("def f(x):\\n    return x + %d\\n" % n, "<churn>", "exec"), ns)
    assert ns["f"](1) == n + 1


if sys.argv[1:] == ["once"]:
    print("slot", probe(), flush=True)
    sys.exit(0)
commands = queue.Queue()
threading.Thread(target=lambda: [commands.put(line.strip()) for line in sys.stdin], daemon=True).start()
print("ready", os.getpid(), flush=True)
n = 0
while True:
    churn(n)
    n += 1
    try:
        command = commands.get(timeout=0.005)
    except queue.Empty:
        continue
    if command == "probe":
        print("slot", probe(), flush=True)
    elif command == "quit":
        for i in range(2000):
            churn(i)
        print("churned", n + 2000, flush=True)
        break
`;

// GIL builds (a free-threaded one keeps its watcher after a stop, and has no test module).
const watched = testPythons().filter((p) => !p.freeThreaded);

test('there are CPythons with and without code watchers to test on', () => {
  assert.ok(watched.filter((p) => p.minor >= 12).length >= 2 && watched.filter((p) => p.minor < 12).length >= 2, JSON.stringify(testPythons().map((p) => p.version)));
});

for (const py of watched) {
  test(`memlens run counts code frees with a watcher while it tracks (Python ${label(py)})`, async () => {
    const plain = spawnSync(py.python, ['-c', PROBE, 'once'], { encoding: 'utf8' });
    assert.equal(plain.stdout, 'slot 0\n', plain.stderr);
    for (const runArgs of [[], ['--trace-python-allocators'], ['--native']]) {
      const r = await memlensRun(
        { python: py.python, files: { 'probe.py': PROBE }, program: ['probe.py', 'once'], runArgs, output: `run-${py.version}${py.system ? '-system' : ''}${runArgs.join('')}.mlens` },
        tmp.dir,
      );
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      assert.equal(r.stdout, 'slot 1\n', runArgs.join(' '));
    }
  });

  test(`attach adds the code watcher, detach clears it, the program goes on freeing code objects (Python ${label(py)})`, async () => {
    const child = spawn(py.python, ['-c', PROBE], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    /** Sends a command and waits for the line it prints. */
    const ask = async (command: string, answer: RegExp): Promise<string> => {
      const before = out.length;
      child.stdin.write(`${command}\n`);
      for (let i = 0; i < 2000 && !answer.test(out.slice(before)); i++) await new Promise((r) => setTimeout(r, 10));
      return answer.exec(out.slice(before))?.[0] ?? `no answer to ${command}: ${out}`;
    };
    const memlens = (args: string[]): void => {
      const r = spawnSync(process.execPath, [...NODE_FLAGS, MEMLENS_BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    };
    try {
      for (let i = 0; i < 2000 && !/ready (\d+)/.test(out); i++) await new Promise((r) => setTimeout(r, 10));
      const pid = /ready (\d+)/.exec(out)?.[1];
      assert.ok(pid !== undefined, out);
      assert.equal(await ask('probe', /slot \d+/), 'slot 0');
      const capture = join(tmp.dir, `attach-${py.version}${py.system ? '-system' : ''}.mlens`);
      memlens(['attach', pid, '-o', capture]);
      assert.equal(await ask('probe', /slot \d+/), 'slot 1', 'tracking: memlens holds slot 0');
      memlens(['detach', pid]);
      assert.ok(existsSync(capture));
      assert.equal(await ask('probe', /slot \d+/), 'slot 0', 'detached: the slot is free again');
      assert.match(await ask('quit', /churned \d+/), /churned \d+/);
      assert.equal(await exited, 0, out);
    } finally {
      child.kill('SIGKILL');
    }
  });
}
