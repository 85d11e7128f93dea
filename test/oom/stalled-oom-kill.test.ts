// A real OOM kill after a stall: the program fills a list, then allocates nothing while a helper process in
// its memory cgroup pauses, then pushes the cgroup over its limit, and the OOM killer ends the program. The
// last second before the kill holds no allocation of the program's; the verdict says the program stalled
// and shows what grew in the second before its last allocation: the fill's line. Work is bounded, not time:
// the helper's pause (5 s) is a lower bound, five times the window asked (1 s), whatever the machine's speed.
// A quiet end without a kill (the same fill, a pause, an exit) is no stall.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { memoryIo } from '../support/memory-io.js';
import { lineOf, memlensRun, tempDir } from '../support/memlens-run.js';
import { corePythons, label, REPO_ROOT } from '../support/pythons.js';

const PROGRAM = readFileSync(join(REPO_ROOT, 'test', 'oom', 'programs', 'stall_then_oom.py'), 'utf8');
const GROW_LINE = lineOf(PROGRAM, 'GROW-LINE');
const MiB = 1024 * 1024;
/** The helper's pause before it allocates, s; the verdict's window is a fifth of it. */
const PAUSE_S = 5;
const tmp = tempDir('memlens-stall-');
after(() => tmp.remove());

interface LineJson {
  readonly function: string;
  readonly file: string;
  readonly line: number;
  readonly bytes: number;
}
interface VerdictJson {
  readonly aggregated: boolean;
  readonly ending: { readonly oom_kill: string; readonly signal: number | null; readonly exit_code: number | null };
  readonly recent_growth: {
    readonly last_ns: number;
    readonly from_ns: number | null;
    readonly to_ns: number;
    readonly stall: { readonly last_change_ns: number; readonly quiet_ns: number; readonly oom_kill: boolean } | null;
    readonly lines: readonly LineJson[];
  } | null;
}

async function verdictOf(capture: string, json: boolean): Promise<string> {
  const io = memoryIo({ cwd: tmp.dir, env: { COLUMNS: '120' } });
  const code = await main(['verdict', ...(json ? ['--json'] : []), '--last', '1', capture], io);
  assert.equal(code, 0, io.err());
  return io.out();
}

// The core interpreters (MEMLENS_TEST_PYTHONS=all: every one; all nine passed when this was written), and an
// aggregated capture on the newest with the GIL.
const pythons = corePythons();
const gil = pythons.filter((p) => !p.freeThreaded);
const cases = [...pythons.map((python) => ({ python, aggregate: false })), { python: gil[gil.length - 1]!, aggregate: true }];

for (const { python, aggregate } of cases) {
  test(`CPython ${label(python)}${aggregate ? ', --aggregate' : ''}: stalled, then OOM-killed: the verdict shows what grew before the stall`, async () => {
    const r = await memlensRun(
      {
        python: python.python,
        files: { 'stall_then_oom.py': PROGRAM },
        program: ['stall_then_oom.py', String(PAUSE_S)],
        runArgs: ['--memory-limit', '96M', ...(aggregate ? ['--aggregate'] : [])],
        output: `stall-${label(python).replace(/\W+/g, '_')}${aggregate ? '-agg' : ''}.mlens`,
        timeoutMs: 120_000,
      },
      tmp.dir,
    );
    assert.doesNotMatch(r.stderr, /cannot create a memory cgroup/, 'this test needs a child memory cgroup (root, cgroup v2 or v1 memory)');
    assert.equal(r.signal, 'SIGKILL', `the program, not its helper, was killed: ${r.stderr}`);

    const v = JSON.parse(await verdictOf(r.capture, true)) as VerdictJson;
    assert.equal(v.aggregated, aggregate);
    assert.equal(v.ending.oom_kill, 'yes');
    const g = v.recent_growth;
    assert.ok(g !== null);
    assert.equal(g.last_ns, 1e9, 'the window asked');
    const top = g.lines[0];
    assert.ok(top !== undefined, 'something grew before the stall');
    assert.deepEqual([top.function, top.file.endsWith('stall_then_oom.py'), top.line], ['fill', true, GROW_LINE]);
    // The window holds the end of the fill, at least (its 48 MiB on any machine that fills faster than 1 s).
    assert.ok(top.bytes >= MiB, `grew ${top.bytes} bytes`);
    // The whole recent_growth in the message: a failure here (once, ci-56, CPython 3.15 under a load of ~5, not
    // reproduced in 32 runs beside two busy loops) is then diagnosable from CI's log alone.
    assert.ok(g.stall !== null && g.stall !== undefined, `the stall is told: ${JSON.stringify({ ...g, lines: g.lines.slice(0, 2) })}`);
    assert.equal(g.stall.oom_kill, true);
    assert.ok(g.stall.quiet_ns >= PAUSE_S * 1e9 - 1e9, `quiet for ${g.stall.quiet_ns} ns: the helper paused ${PAUSE_S} s`);
    assert.equal(g.to_ns, g.stall.last_change_ns, 'the window ends at the last change');

    const text = await verdictOf(r.capture, false);
    assert.match(text, /What grew in the last 1 s before the program stalled: /);
    assert.match(text.replace(/\n {4}/g, ' '), /The program allocated and freed nothing in its last [\d.]+ s before the OOM kill \(nothing after [\d.]+ s\), while memory snapshots went on: it stalled/);
    assert.match(text, new RegExp(`\\n +\\+[\\d.]+ [KM]iB +\\+\\d+ +(?:\\d+ +)?fill at stall_then_oom\\.py:${GROW_LINE}\\n`));
  });
}

test(`CPython ${label(pythons[0]!)}: a quiet end without a kill is no stall`, async () => {
  const r = await memlensRun({ python: pythons[0]!.python, files: { 'stall_then_oom.py': PROGRAM }, program: ['stall_then_oom.py', 'exit'], output: 'quiet-end.mlens', timeoutMs: 120_000 }, tmp.dir);
  assert.equal(r.code, 0, r.stderr);
  const v = JSON.parse(await verdictOf(r.capture, true)) as VerdictJson;
  const g = v.recent_growth;
  assert.ok(g !== null);
  assert.equal(g.stall, null);
  // The window is the last second before the end: the program slept through it (3 s), the fill is not in it.
  assert.equal(
    g.lines.find((l) => l.line === GROW_LINE && l.file.endsWith('stall_then_oom.py')),
    undefined,
  );
});
