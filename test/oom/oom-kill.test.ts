// A real OOM kill in a child memory cgroup: `memlens run --memory-limit` on a program whose one function
// grows memory until the kernel's OOM killer ends it. The verdict names that function (file:line), shows
// its growth in the last second, the OOM kill with the kernel's line, and the near-OOM marker. The same
// from the last checkpoint of an aggregated capture.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { memoryIo } from '../support/memory-io.js';
import { lineOf, memlensRun, tempDir } from '../support/memlens-run.js';
import { label, REPO_ROOT, testPythons } from '../support/pythons.js';

const PROGRAM = readFileSync(join(REPO_ROOT, 'test', 'oom', 'programs', 'grow_until_oom.py'), 'utf8');
const GROW_LINE = lineOf(PROGRAM, 'GROW-LINE');
const tmp = tempDir('memlens-oom-');
after(() => tmp.remove());

interface VerdictJson {
  ending: { kind: string; signal: number; oom_kill: string; detail: string; stop_reason: string };
  near_oom: { time_ns: number; before_end_ns: number; label: string } | null;
  peak: { limit: number | null; cgroup_usage: { bytes: number } | null };
  recent_growth: { whole_capture: boolean; from_ns: number | null; to_ns: number; lines: { function: string; file: string; line: number; bytes: number; count: number }[] } | null;
  aggregated: boolean;
}

async function verdictOf(capture: string, json: boolean): Promise<string> {
  const io = memoryIo({ cwd: tmp.dir, env: { COLUMNS: '120' } });
  // The last 10 s: the whole of a run of a few seconds. The last second alone may hold no growth: the kernel
  // can reclaim for over a second at the limit before it kills (1.5 s seen under load).
  const code = await main(['verdict', ...(json ? ['--json'] : []), '--last', '10', capture], io);
  assert.equal(code, 0, io.err());
  return io.out();
}

const pythons = testPythons();
const cases = [
  { python: pythons[pythons.length - 1]!, aggregate: false },
  { python: pythons[0]!, aggregate: true },
];

for (const { python, aggregate } of cases) {
  test(`CPython ${label(python)}${aggregate ? ', --aggregate' : ''}: OOM-killed in a child cgroup, the verdict names the growing function`, async () => {
    const r = await memlensRun(
      {
        python: python.python,
        files: { 'grow_until_oom.py': PROGRAM },
        program: ['grow_until_oom.py'],
        runArgs: ['--memory-limit', '96M', ...(aggregate ? ['--aggregate'] : [])],
        output: aggregate ? 'agg.mlens' : 'full.mlens',
        verbose: true,
        timeoutMs: 60_000,
      },
      tmp.dir,
    );
    assert.doesNotMatch(r.stderr, /cannot create a memory cgroup/, 'this test needs a child memory cgroup (run as root with cgroup v2 or v1 memory)');
    // memlens ends as its program did: by SIGKILL.
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    assert.match(r.stderr, /the program was killed by the kernel's OOM killer/);

    const v = JSON.parse(await verdictOf(r.capture, true)) as VerdictJson;
    assert.equal(v.aggregated, aggregate);
    assert.deepEqual([v.ending.kind, v.ending.signal, v.ending.oom_kill, v.ending.stop_reason], ['signal', 9, 'yes', 'oom-kill']);
    assert.ok(v.ending.detail !== '', 'the kernel line (or how the kill was told)');
    assert.equal(v.peak.limit, 96 * 1024 * 1024);
    assert.ok(v.near_oom !== null, 'the near-OOM marker');
    assert.match(v.near_oom.label, /cgroup memory usage \d+ of limit \d+/);
    assert.ok(v.near_oom.before_end_ns >= 0 && v.near_oom.before_end_ns < 10e9);
    const g = v.recent_growth;
    assert.ok(g !== null);
    const top = g.lines[0];
    assert.ok(top !== undefined, 'something grew in the last 10 s');
    assert.deepEqual([top.function, top.file.endsWith('grow_until_oom.py'), top.line], ['grow_forever', true, GROW_LINE]);
    // 1 MiB every 20 ms until the limit: tens of MiB.
    assert.ok(top.bytes >= 8 * 1024 * 1024, `grew ${top.bytes} bytes`);

    const text = await verdictOf(r.capture, false);
    assert.match(text, /Killed by the kernel's OOM killer \(SIGKILL, signal 9\)/);
    assert.match(text, new RegExp(`\\n  Kernel: ${v.ending.detail.slice(0, 30).replace(/[()[\]\\.*+?^$|{}]/g, '\\$&')}`));
    // How long the kernel took to kill after the near-OOM marker is the machine's (reclaim under load took
    // 1.5 s once): milliseconds or seconds.
    assert.match(text, /Near OOM at \d+\.\d{3} s, (?:\d+ ms|\d+\.\d+ s) before the end: cgroup memory usage/);
    assert.match(text, new RegExp(`What grew in the last 10 s[^\\n]*\\n  Tracked heap \\+[^\\n]+\\n[^\\n]+\\n[^\\n]+\\n +\\+[\\d.]+ MiB +\\+\\d+ +grow_forever at grow_until_oom\\.py:${GROW_LINE}\\n`));
  });
}
