// The program's end under `memlens run` (docs/reports.md "Which end"): after the program's code, its
// non-daemon threads and its exit handlers, the bootstrap marks the end (PROGRAM_END), releases the script's
// module-level names, collects once and stops. What only those names held (a script-level
// `data = bytearray(...)` used to the end) is then no leak at the end, while the program's last seconds
// still show it; the program's exit handlers and threads still read its globals; a daemon thread still
// running keeps the names (and the report says so); SystemExit and uncaught exceptions end the same way.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { main } from '../src/cli/main.js';
import { Oracle } from './support/agent-oracle.js';
import { memlensRun, tempDir } from './support/memlens-run.js';
import { memoryIo } from './support/memory-io.js';
import { corePythons, label } from './support/pythons.js';

interface LineJson {
  readonly line: number;
  readonly bytes: number;
}
interface VerdictJson {
  readonly ending: { readonly stop_reason: string; readonly program_end: { readonly time_ns: number; readonly names_released: boolean; readonly kept_because: string | null } | null };
  readonly recent_growth: { readonly heap_bytes: number; readonly lines: readonly LineJson[] } | null;
  readonly live_at_end: { readonly heap_bytes: number; readonly lines: readonly LineJson[]; readonly end: string };
  readonly findings: readonly { readonly kind: string }[];
}

async function verdictOf(capture: string): Promise<{ json: VerdictJson; text: string }> {
  const io = memoryIo();
  assert.equal(await main(['verdict', '--json', capture], io), 0, io.err());
  const text = memoryIo();
  assert.equal(await main(['verdict', capture], text), 0, text.err());
  // Sentences as one line, whatever width they were wrapped to.
  return { json: JSON.parse(io.out()) as VerdictJson, text: text.out().replace(/\n +/g, ' ') };
}

const MIB50 = 50 << 20;
const PROGRAM_END = 9; // MARKER kind

// Module-level data used to the end; an exit handler and a non-daemon thread that outlives the main
// script both read module-level names after the script returned (the thread waits for an event the exit
// of the main script's code sets, so it runs after it whatever the machine's speed).
const KEPT = `import atexit, threading
data = bytearray(${MIB50})
CONFIG = {"name": "settings"}
main_done = threading.Event()

def report():
    print("atexit", CONFIG["name"], len(data), flush=True)

atexit.register(report)

def worker():
    main_done.wait()
    print("thread", CONFIG["name"], len(data), flush=True)

threading.Thread(target=worker).start()
print("main", sum(data[:10]), flush=True)
main_done.set()
`;

const DAEMON = `import threading, time
data = bytearray(${MIB50})
started = threading.Event()

def poll():
    started.set()
    while True:
        _ = len(data)
        time.sleep(0.001)

threading.Thread(target=poll, name="poller", daemon=True).start()
started.wait()
print("main", len(data), flush=True)
`;

for (const py of corePythons()) {
  describe(`the program's end under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);

    test('a script-level 50 MiB bytearray used to the end is no leak at the end; exit handlers and threads still read the globals', async () => {
      const r = await memlensRun({ python: py.python, files: { 'kept.py': KEPT }, program: ['kept.py'], output: 'kept.mlens' }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      assert.equal(r.stdout, `main 0\nthread settings ${MIB50}\natexit settings ${MIB50}\n`, 'the thread and the exit handler saw the module-level names');
      const o = await Oracle.load(r.capture);
      const ends = o.records('marker').filter((m) => m.kind === PROGRAM_END);
      assert.equal(ends.length, 1);
      assert.equal(ends[0]!.label, 'released');
      const trailer = o.records('trailer')[0];
      assert.ok(trailer !== undefined && ends[0]!.seq < trailer.seq, 'the marker comes before the trailer');
      const big = o.allocs.filter((a) => a.size >= MIB50);
      assert.equal(big.length, 1);
      assert.ok(
        o.frees.some((f) => f.address === big[0]!.address && f.seq >= ends[0]!.seq),
        "the release freed it after the marker (a marker's seq is that of the next event), while tracking still ran",
      );

      const { json, text } = await verdictOf(r.capture);
      assert.equal(json.ending.stop_reason, 'exit');
      assert.equal(json.ending.program_end?.names_released, true);
      assert.ok(json.live_at_end.heap_bytes < MIB50, `live at the end: ${json.live_at_end.heap_bytes} bytes`);
      assert.ok(!json.live_at_end.lines.some((l) => l.line === 2), 'line 2 (data = ...) is not live at the end');
      assert.match(json.live_at_end.end, /^at the program's end .*with the script's module-level names released/);
      assert.match(text, /The end: at the program's end \(\d+\.\d+ s\): after its code, threads and exit handlers, with the script's module-level names released/);
      // The program's last seconds stop at its end: the release is not a shrink of the program.
      assert.ok(json.recent_growth !== null && json.recent_growth.lines.some((l) => l.line === 2 && l.bytes >= MIB50), 'the last seconds show the bytearray as the program held it');
      assert.deepEqual(
        json.findings.map((f) => f.kind),
        [],
        'one object made at module level and used to the end is no finding',
      );
    });

    test("aggregated (--aggregate): a checkpoint right before the marker holds the program's end, the one at the stop what the release left", async () => {
      const r = await memlensRun({ python: py.python, files: { 'kept.py': KEPT }, program: ['kept.py'], output: 'kept-agg.mlens', runArgs: ['--aggregate'] }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      const end = o.metas.findIndex((m) => m.type === 'marker' && m.kind === PROGRAM_END);
      assert.ok(end > 0);
      // The agent writes a checkpoint right before the marker (a periodic one may be a second old, or not
      // written yet in a run this short): the state at the end holds the bytearray.
      assert.ok(o.checkpointState().heap >= MIB50, `heap at the program's end: ${o.checkpointState().heap}`);
      assert.ok(
        o.metas.slice(end).some((m) => m.type === 'checkpoint' && m.heap < MIB50),
        'the checkpoint at the stop: after the release',
      );
      const { json } = await verdictOf(r.capture);
      assert.ok(json.live_at_end.heap_bytes < MIB50, `live at the end: ${json.live_at_end.heap_bytes} bytes`);
      assert.ok(json.recent_growth !== null && json.recent_growth.lines.some((l) => l.line === 2 && l.bytes >= MIB50), 'the last seconds, from the checkpoints up to the end, show the bytearray');
    });

    test('a daemon thread still running at the end: the names are kept, and the report says why', async () => {
      const r = await memlensRun({ python: py.python, files: { 'daemon.py': DAEMON }, program: ['daemon.py'], output: 'daemon.mlens' }, tmp.dir);
      assert.equal(r.stderr, '', 'the daemon thread never saw a released name');
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      const ends = o.records('marker').filter((m) => m.kind === PROGRAM_END);
      assert.equal(ends.length, 1);
      assert.match(ends[0]!.label, /^kept: 1 other thread still running \('poller'\)$/);
      const { json, text } = await verdictOf(r.capture);
      assert.equal(json.ending.program_end?.names_released, false);
      assert.ok(
        json.live_at_end.lines.some((l) => l.line === 2 && l.bytes >= MIB50),
        'still held by the kept names: live at the end',
      );
      assert.match(text, /the script's module-level names were not released \(1 other thread still running \('poller'\)\), so what they refer to counts/);
    });

    test('SystemExit and an uncaught exception end the program too: marked, released, status and traceback as under python3', async () => {
      const exit3 = await memlensRun({ python: py.python, program: ['-c', `import sys\ndata = bytearray(${MIB50})\nsys.exit(3)`], output: 'exit3.mlens' }, tmp.dir);
      assert.equal(exit3.code, 3);
      assert.equal(exit3.stderr, '');
      const raised = await memlensRun({ python: py.python, program: ['-c', `data = bytearray(${MIB50})\ndef f():\n    raise KeyError("k")\nf()`], output: 'raised.mlens' }, tmp.dir);
      assert.equal(raised.code, 1);
      assert.match(raised.stderr, /^Traceback \(most recent call last\):\n {2}File "<string>", line 4, in <module>\n/);
      assert.match(raised.stderr, /KeyError: 'k'\n$/);
      for (const capture of [exit3.capture, raised.capture]) {
        const o = await Oracle.load(capture);
        assert.deepEqual(
          o
            .records('marker')
            .filter((m) => m.kind === PROGRAM_END)
            .map((m) => m.label),
          ['released'],
          capture,
        );
        const { json } = await verdictOf(capture);
        assert.ok(json.live_at_end.heap_bytes < MIB50, `${capture}: ${json.live_at_end.heap_bytes} bytes live at the end`);
      }
    });
  });
}
