// --show-internal-frames shows what the docs say it shows: threading's _bootstrap and _bootstrap_inner at
// a thread's root (with memlens's wrapper between them) and runpy's frames under -m, which reports hide by
// default. The agent records them (the capture holds the stack as it was; hiding is the report's choice);
// only memlens's launcher frames below the program's first frame are never recorded, because python3
// would not have them. Under -m the traceback of an unhandled exception is python3's, runpy frames
// included.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import { NODE_FLAGS } from '../src/util/node-flags.js';
import { MEMLENS_BIN, memlensRun, tempDir } from './support/memlens-run.js';
import { corePythons, label } from './support/pythons.js';

const THREAD_PROG = `import threading

keep = []


def worker():
    keep.append(bytearray(5_000_000))


t = threading.Thread(target=worker, name="w1")
t.start()
t.join()
`;

const MODULE = `keep = bytearray(4_000_000)


def fail():
    raise KeyError("k")


fail()
`;

interface Row {
  readonly function: string;
  readonly file: string;
  readonly total_bytes: number;
}

async function summaryRows(capture: string, extra: readonly string[]): Promise<Row[]> {
  const r = await promisify(execFile)(process.execPath, [...NODE_FLAGS, MEMLENS_BIN, 'summary', '--json', '--max-rows', '1000', ...extra, capture], { maxBuffer: 16 << 20 });
  return (JSON.parse(r.stdout) as { rows: Row[] }).rows;
}

/** Rows that hold the program's buffer (`bytes` or more) and whose function name ends with one of `names`. */
function holding(rows: readonly Row[], bytes: number, names: readonly string[]): string[] {
  return rows.filter((r) => r.total_bytes >= bytes && names.some((n) => r.function === n || r.function.endsWith(`.${n}`))).map((r) => r.function.replace(/^.*\./, ''));
}

const THREAD_INTERNAL = ['_bootstrap', '_bootstrap_inner', '_memlens_bootstrap_inner'];
const RUNPY = ['_run_module_as_main', '_run_code'];

for (const py of corePythons()) {
  describe(`internal frames under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);

    test("a thread's bootstrap frames: hidden by default, shown with --show-internal-frames", async () => {
      const r = await memlensRun({ python: py.python, files: { 'thr.py': THREAD_PROG }, program: ['thr.py'], output: 'thr.mlens' }, tmp.dir);
      assert.equal(r.code, 0, r.stderr);
      const hidden = await summaryRows(r.capture, []);
      assert.deepEqual(holding(hidden, 5_000_000, [...THREAD_INTERNAL, 'run', 'worker']).sort(), ['run', 'worker']);
      const shown = await summaryRows(r.capture, ['--show-internal-frames']);
      assert.deepEqual(holding(shown, 5_000_000, [...THREAD_INTERNAL, 'run', 'worker']).sort(), ['_bootstrap', '_bootstrap_inner', '_memlens_bootstrap_inner', 'run', 'worker']);
    });

    test("-m: runpy frames hidden by default, shown with --show-internal-frames; the traceback is python3's", async () => {
      const r = await memlensRun({ python: py.python, files: { 'boom.py': MODULE }, program: ['-m', 'boom'], output: 'mod.mlens' }, tmp.dir);
      const plain = await promisify(execFile)(py.python, ['-m', 'boom'], { cwd: tmp.dir }).then(
        () => assert.fail('python3 -m boom should fail'),
        (e: { code: number; stderr: string }) => e,
      );
      assert.equal(r.code, 1);
      assert.equal(plain.code, 1);
      assert.equal(r.stderr, plain.stderr, 'the same traceback as python3 -m, runpy frames included');
      assert.match(r.stderr, /in _run_module_as_main\n/);
      const hidden = await summaryRows(r.capture, []);
      assert.deepEqual(holding(hidden, 4_000_000, [...RUNPY, '<module>']), ['<module>']);
      const shown = await summaryRows(r.capture, ['--show-internal-frames']);
      assert.deepEqual(holding(shown, 4_000_000, [...RUNPY, '<module>']).sort(), ['<module>', '_run_code', '_run_module_as_main']);
    });
  });
}
