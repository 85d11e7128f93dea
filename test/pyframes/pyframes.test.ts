// agent/src/pyframes.c inside every installed CPython: the test-only probe library (agent/test/
// pyframes_probe.c) walks the calling thread's frames with the GIL released, and test/pyframes/
// probe_check.py puts what it read next to what Python says (sys._getframe(), traceback.extract_stack()).
// Lines are computed here, from the raw line tables pyframes.c returned, by src/model/linetable.ts.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LINETABLE_310, LINETABLE_LNOTAB, LINETABLE_LOCATIONS } from '../../src/capture/format.js';
import { LineTable } from '../../src/model/linetable.js';
import { AGENT_SRC, AGENT_TEST, compile, installedPythons, label, removeDir, runPython, SCRIPTS, STRICT_CFLAGS, supportedPythons, tempDir } from './support.js';

interface CodeText {
  name: string;
  qualname: string;
  filename: string;
  firstlineno: number;
  kind: number;
  linetable: string;
}
interface PyFrame {
  code: number;
  lasti: number;
  lineno: number | null;
  name: string;
  qualname: string;
  filename: string;
  firstlineno: number;
  name_id: number;
  filename_id: number;
}
interface Scenario {
  name: string;
  depth: number;
  leaf_line: number;
  probe: { code: number; instr: number }[];
  python: PyFrame[];
  traceback: { name: string; lineno: number; filename: string }[];
}
interface ProbeOutput {
  version: number[];
  hexversion: number;
  init: { rc: number; err: string };
  refusals: { hexversion: number; rc: number; err: string; depth_after: number }[];
  new_thread_depth?: number;
  scenarios: Scenario[];
  codes: Record<string, { text: CodeText | null; key: { name: number; filename: number; firstlineno: number } | null }>;
  strings: { label: string; got: CodeText | null; want_name: string; want_filename: string }[];
  small_buffer?: { fits: boolean; too_small: boolean };
  not_code?: { text: unknown; key: unknown; null: unknown };
}

let dir = '';
let probe = '';

before(() => {
  dir = tempDir('memlens-probe-');
  probe = join(dir, 'pyframes_probe.so');
  const cc = compile([...STRICT_CFLAGS, '-fPIC', '-shared', '-fvisibility=hidden', join(AGENT_TEST, 'pyframes_probe.c'), join(AGENT_SRC, 'pyframes.c'), '-ldl', '-o', probe]);
  assert.equal(cc.status, 0, `building the probe library failed:\n${cc.stderr}`);
});
after(() => removeDir(dir));

function run(p: { exe: string }): ProbeOutput {
  return JSON.parse(runPython({ ...installedPythons()[0]!, ...p }, [join(SCRIPTS, 'probe_check.py'), probe])) as ProbeOutput;
}

const pythons = supportedPythons();

test('CPythons to run the probe in are installed', () => {
  assert.ok(pythons.length > 0, 'no CPython >= 3.9 found (pyenv versions or /usr/bin/python3)');
});

/** What each scenario must show at the root side of its leaf (snapshot): the names of its first frames. */
const EXPECTED_CALLERS: Record<string, string[]> = {
  'main thread': ['snapshot', 'plain', '<module>'],
  'other thread': ['snapshot', '<lambda>', 'run', '_bootstrap_inner', '_bootstrap'],
  generator: ['snapshot', 'gen', 'consume_gen', '<module>'],
  'yield from': ['snapshot', 'gen_inner', 'outer_gen', '<module>'],
  'coroutine under asyncio': ['snapshot', 'coro_leaf', 'coro_main'],
  'coroutine driven by send': ['snapshot', 'bare_coro', 'drive', '<module>'],
  lambda: ['snapshot', '<lambda>', '<module>'],
  'class body': ['snapshot', 'Klass', '<module>'],
  method: ['snapshot', 'method', '<module>'],
  staticmethod: ['snapshot', 'static', '<module>'],
  'non-ASCII 1': ['snapshot', '𐐀𠀀', '函数', 'café', 'μ', 'far', '<module>', '<module>'],
  'module level': ['snapshot', '<module>', '<module>'],
};

for (const p of pythons) {
  test(`pyframes.c walks the frames of CPython ${label(p)} without the GIL`, () => {
    const out = run(p);
    assert.deepEqual(out.init, { rc: 0, err: '' }, 'init succeeds for the running version');
    for (const r of out.refusals) {
      assert.equal(r.rc, -1, `init(0x${r.hexversion.toString(16)}) refuses an unknown version`);
      const v = `${(r.hexversion >> 24) & 0xff}.${(r.hexversion >> 16) & 0xff}`;
      assert.match(r.err, new RegExp(`not supported on CPython ${v.replace('.', '\\.')} \\(this agent knows 3\\.9 to 3\\.15\\)`));
      assert.equal(r.depth_after, 0, 'after a refused init, walks find nothing');
    }
    assert.equal(out.new_thread_depth, 0, 'a thread without a Python thread state has no frames');

    const kind = p.minor === 9 ? LINETABLE_LNOTAB : p.minor === 10 ? LINETABLE_310 : LINETABLE_LOCATIONS;
    const tables = new Map<number, LineTable>();
    const scenarioNames = new Set(out.scenarios.map((s) => s.name));
    for (const name of Object.keys(EXPECTED_CALLERS)) assert.ok(scenarioNames.has(name), `scenario ${name} ran`);
    assert.ok(scenarioNames.has('recursion 5000') && scenarioNames.has('list comprehension'));

    for (const s of out.scenarios) {
      const where = `${label(p)}, ${s.name}`;
      assert.equal(s.depth, s.python.length, `${where}: depth is Python's`);
      assert.equal(s.probe.length, s.depth, `${where}: every frame was returned`);
      assert.equal(s.traceback.length, s.depth, `${where}: traceback.extract_stack() sees as many frames`);
      s.probe.forEach((f, i) => {
        const py = s.python[i]!;
        const at = `${where}, frame ${i} (${py.qualname})`;
        assert.equal(f.code, py.code, `${at}: code object`);
        const entry = out.codes[String(f.code)];
        assert.ok(entry?.text && entry.key, `${at}: code text and key read`);
        const t = entry.text;
        assert.deepEqual(
          { name: t.name, qualname: t.qualname, filename: t.filename, firstlineno: t.firstlineno, kind: t.kind },
          { name: py.name, qualname: py.qualname, filename: py.filename, firstlineno: py.firstlineno, kind },
          `${at}: code text`,
        );
        assert.deepEqual(entry.key, { name: py.name_id, filename: py.filename_id, firstlineno: py.firstlineno }, `${at}: code key`);
        let table = tables.get(f.code);
        if (table === undefined) {
          table = LineTable.decode(t.kind, Buffer.from(t.linetable, 'hex'), t.firstlineno);
          tables.set(f.code, table);
        }
        const line = table.lineAt(f.instr);
        if (i === 0) {
          assert.equal(line, s.leaf_line, `${at}: line of the probe call`);
        } else {
          // a caller is suspended in its call: Python's f_lasti is the same instruction
          assert.equal(f.instr, py.lasti, `${at}: instruction offset`);
          assert.equal(line, py.lineno, `${at}: line`);
          assert.equal(line, s.traceback[i]!.lineno, `${at}: traceback line`);
        }
      });
      const expected = EXPECTED_CALLERS[s.name];
      if (expected !== undefined) {
        assert.deepEqual(
          s.python.slice(0, expected.length).map((f) => f.name),
          expected,
          `${where}: the scenario's frames`,
        );
      }
    }
    if (p.minor === 11) {
      // the one version where a frame can be seen incomplete from Python (see probe_check.py)
      const gc = out.scenarios.find((s) => s.name === 'gc callback in a frame prologue');
      assert.ok(gc, 'a gc callback ran in the prologue of a frame');
      assert.deepEqual(
        gc.python.slice(0, 4).map((f) => f.name),
        ['snapshot', 'gc_callback', 'incomplete_driver', '<module>'],
      );
    }
    const deep = out.scenarios.find((s) => s.name === 'recursion 5000')!;
    assert.ok(deep.depth > 5000, `recursion 5000: depth ${deep.depth}`);
    const nonAscii = out.scenarios.find((s) => s.name === 'non-ASCII 1')!;
    assert.equal(nonAscii.python[1]!.filename, '/tmp/memlens tést/模块/𠀀𐐀.py');
    assert.ok(nonAscii.python.some((f) => f.qualname === (p.minor >= 11 ? 'Ωmega.μ' : 'μ')));
    assert.ok(
      nonAscii.traceback.some((f) => f.lineno > 70_000),
      'a line past 70,000 (module level of the non-ASCII file)',
    );

    for (const c of out.strings) {
      assert.ok(c.got, `${c.label}: code text read`);
      assert.equal(c.got.name, c.want_name, `${c.label}: name`);
      assert.equal(c.got.filename, c.want_filename, `${c.label}: file name`);
    }
    assert.deepEqual(out.small_buffer, { fits: true, too_small: true }, 'a buffer too small for the strings is refused');
    assert.deepEqual(out.not_code, { text: null, key: null, null: null }, 'objects that are not code are refused');
  });
}

// Versions the agent does not know (here 3.6–3.8 under pyenv) must be refused cleanly at init.
for (const p of installedPythons().filter((q) => q.minor < 9)) {
  test(`pyframes.c refuses CPython ${label(p)} with a reason`, () => {
    const out = run(p);
    assert.equal(out.init.rc, -1);
    assert.match(out.init.err, new RegExp(`not supported on CPython 3\\.${p.minor} `));
  });
}
