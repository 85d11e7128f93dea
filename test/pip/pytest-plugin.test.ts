// The pytest plugin on a sample project's suite (test/pip/sample_project), with and without pytest-xdist,
// on the oldest and newest CPython: which tests fail and why, the terse failure, the kept capture and its
// HTML report, the session summary and the JSON results. (Its bad inputs: pytest-plugin-bad-input.test.ts.)
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type Run, type Venv, envWithoutNode, makeVenv, pytestIn, sampleProject, sh, wheelPath } from '../support/pip.js';
import { label, testPythons } from '../support/pythons.js';

const work = mkdtempSync(join(tmpdir(), 'memlens-pytest-test-'));
after(() => rmSync(work, { recursive: true, force: true }));
const MiB = 1024 * 1024;
const ARENA = MiB;

const pythons = testPythons().filter((p) => !p.system);
const oldest = pythons[0];
const newest = pythons[pythons.length - 1];

interface TestResult {
  nodeid: string;
  worker: string | null;
  outcome: string;
  peak_bytes: number;
  leaked_bytes: number;
  over_limit: boolean;
  limit_memory_bytes: number | null;
  capture: string | null;
  report: string | null;
  top_stack: { bytes: number; frames: { function: string; file: string; line: number }[] } | null;
}
interface SessionJson {
  schema: string;
  session: { tests: number; over_limit: number; largest_test_peak: { nodeid: string; bytes: number }; workers_peak_rss: Record<string, number> };
  tests: TestResult[];
}

const EXPECTED_FAILURES = [
  'tests/test_limits.py::test_over_default_limit',
  'tests/test_limits.py::test_over_leak_limit',
  'tests/test_limits.py::test_over_memory_limit',
  'tests/test_more.py::test_fails_on_its_own',
];

const project = (name: string): string => sampleProject(work, name);
const pytest = (venv: Venv, cwd: string, args: readonly string[]): Run => pytestIn(venv, work, cwd, args);

/** The lines of one test's section under FAILURES: from its ____ header to the next header. */
function failureSection(stdout: string, name: string): string[] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^_+ ${name} _+$`).test(l));
  assert.ok(start >= 0, `no failure section for ${name} in:\n${stdout}`);
  const end = lines.findIndex((l, i) => i > start && (/^_+ \S+ _+$/.test(l) || /^=+ /.test(l)));
  return lines.slice(start + 1, end);
}

function checkRun(venv: Venv, xdist: boolean): void {
  const dir = project(`sample-${venv.python.includes('3.9') ? 'old' : 'new'}-${xdist ? 'xdist' : 'plain'}`);
  const json = join(dir, 'memlens-results.json');
  const args = ['--memlens', '--memlens-limit-memory', '6 MB', '--memlens-json', json, ...(xdist ? ['-n', '2', '--memlens-full'] : [])];
  const r = pytest(venv, dir, args);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const doc = JSON.parse(readFileSync(json, 'utf8')) as SessionJson;
  assert.equal(doc.schema, 'memlens.pytest/1');
  assert.equal(doc.tests.length, 13);
  const failed = doc.tests
    .filter((t) => t.outcome === 'failed')
    .map((t) => t.nodeid)
    .sort();
  assert.deepEqual(failed, EXPECTED_FAILURES);
  const byId = new Map(doc.tests.map((t) => [t.nodeid.split('::')[1] ?? '', t]));
  const peak = (name: string): number => byId.get(name)?.peak_bytes ?? -1;
  for (const [name, mib] of [
    ['test_under_memory_limit', 8],
    ['test_over_memory_limit', 12],
    ['test_over_default_limit', 10],
    ['test_marker_overrides_default', 16],
    ['test_sizes[3]', 3],
  ] as const) {
    // One pymalloc arena (1 MiB; 256 KiB before 3.10) more is allowed: pytest's own objects may need a new arena
    // during the test, and whether they do depends on where ASLR put the last one (an arena not aligned to a pool
    // holds one pool fewer). The arena is real memory, counted as memray counts it; the test's own stack is not
    // allowed any slack (top_stack below).
    assert.ok(peak(name) >= mib * MiB && peak(name) < (mib + 1) * MiB + ARENA, `${name}: peak ${peak(name)}, expected ${mib} MiB`);
  }
  const top = byId.get('test_over_memory_limit')?.top_stack?.bytes ?? -1;
  assert.ok(top >= 12 * MiB && top < 13 * MiB, `test_over_memory_limit: top stack ${top}, expected 12 MiB`);
  assert.ok((byId.get('test_over_leak_limit')?.leaked_bytes ?? 0) >= 2 * MiB);
  assert.equal(byId.get('test_over_default_limit')?.limit_memory_bytes, 6 * MiB, 'the default limit');
  assert.equal(byId.get('test_marker_overrides_default')?.limit_memory_bytes, 30 * MiB, 'the marker overrides it');
  assert.equal(byId.get('test_leak_filtered_out')?.outcome, 'passed', 'filter_fn left out the known cache');
  assert.equal(byId.get('test_fails_on_its_own')?.over_limit, false);
  assert.deepEqual(
    byId
      .get('test_over_memory_limit')
      ?.top_stack?.frames.slice(0, 3)
      .map((f) => f.function),
    ['hold', 'use_briefly', 'test_over_memory_limit'],
  );
  assert.equal(doc.session.over_limit, 3);
  assert.equal(doc.session.largest_test_peak.nodeid, 'tests/test_limits.py::test_marker_overrides_default');
  if (xdist) {
    assert.deepEqual(Object.keys(doc.session.workers_peak_rss).sort(), ['gw0', 'gw1', 'main']);
    assert.deepEqual([...new Set(doc.tests.map((t) => t.worker))].sort(), ['gw0', 'gw1'], 'both workers ran tests');
  }

  // A terse failure: what went over, where it went, the capture and its report; no traceback.
  const section = failureSection(r.stdout, 'test_over_memory_limit').filter((l) => !/^\[gw\d\] linux/.test(l));
  assert.ok(section.length <= 6, section.join('\n'));
  assert.match(section[0] ?? '', /^memlens: the test used 1[23]\.\d MiB at its peak, over its limit of 4\.0 MiB \(limit_memory\); where it went:$/);
  assert.match(section[1] ?? '', /^\s+12\.0 MiB {2}hold sample\.py:11 ← use_briefly sample\.py:17 ← test_over_memory_limit test_limits\.py:17( ← …)?$/);
  const report = /^ {2}report: {2}(\S+\.html)$/m.exec(section.join('\n'))?.[1];
  assert.ok(report !== undefined && existsSync(report), section.join('\n'));
  assert.match(readFileSync(report, 'utf8'), /^<!doctype html>/i);
  const leak = failureSection(r.stdout, 'test_over_leak_limit').filter((l) => !/^\[gw\d\] linux/.test(l));
  assert.match(leak[0] ?? '', /^memlens: 1 call stack leaked more than the limit of 200\.0 KiB \(limit_leaks\):$/);
  assert.match(leak[1] ?? '', /^\s+2\.\d MiB {2}leak sample\.py:24 ← test_over_leak_limit test_limits\.py:32/);

  // Only the failing tests' captures stay (with their reports); full ones when asked.
  const kept = readdirSync(join(dir, '.memlens')).sort();
  assert.equal(kept.filter((f) => f.endsWith('.mlens')).length, 3, kept.join(' '));
  assert.equal(kept.filter((f) => f.endsWith('.html')).length, 3, kept.join(' '));
  const capture = byId.get('test_over_memory_limit')?.capture ?? '';
  const res = sh(venv.python, ['-m', 'memlens', 'results', capture], { env: envWithoutNode(work, venv.bin) });
  assert.equal(res.code, 0, res.stderr);
  assert.equal((JSON.parse(res.stdout) as { capture: { aggregated: boolean } }).capture.aggregated, !xdist);

  // The session summary.
  assert.match(r.stdout, /^=+ memlens =+$/m);
  assert.match(r.stdout, /^Largest peaks \(of 13 tests tracked\):\n\s+16\.0 MiB {2}tests\/test_limits\.py::test_marker_overrides_default( \[gw\d\])? \(limit 30\.0 MiB\)$/m);
  assert.match(r.stdout, xdist ? /^Peak RSS of the pytest processes: gw0 [\d.]+ MiB, gw1 [\d.]+ MiB, main [\d.]+ MiB; together at most [\d.]+ MiB$/m : /^Peak RSS of the pytest process: main [\d.]+ MiB$/m);
  assert.match(r.stdout, /4 failed, 9 passed/);
}

for (const py of [oldest, newest]) {
  test(`pytest --memlens on a sample suite, then with -n 2 and full captures (Python ${py === undefined ? '?' : label(py)})`, () => {
    assert.ok(py !== undefined);
    const venv = makeVenv(py, join(work, `venv-${py.version}`), [wheelPath(), 'pytest', 'pytest-xdist']);
    checkRun(venv, false);
    checkRun(venv, true);
  });
}
