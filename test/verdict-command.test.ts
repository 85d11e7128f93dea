// `memlens verdict` through main(): golden text at a fixed width with colour off, on a capture made with
// the encoder (an OOM-killed job with findings); JSON; bad input; and the findings and GC sections that
// summary and stats gained. UPDATE_GOLDEN=1 rewrites the golden files.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { main } from '../src/cli/main.js';
import { checkGolden, FIXTURES } from './support/golden.js';
import { memoryIo } from './support/memory-io.js';
import { MiB, oomJobCapture, ProgramCapture, SEC } from './support/program-capture.js';

const dir = mkdtempSync(join(tmpdir(), 'memlens-verdict-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const env = { COLUMNS: '100' };
const ms = 1_000_000;

function golden(name: string, actual: string): void {
  checkGolden(join(FIXTURES, 'verdict', name), actual);
}

const oomPath = join(dir, 'job.mlens');
writeFileSync(oomPath, oomJobCapture());

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo({ cwd: dir, env });
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

test('memlens verdict: golden text at 100 columns, colour off', async () => {
  const r = await run(['verdict', '--last', '2', oomPath]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, '');
  golden('oom-job.verdict.txt', r.out.replaceAll(dir, '<dir>')); // the text names the capture as given
});

test('memlens verdict --json: the same facts as data', async () => {
  const r = await run(['verdict', '--json', '--last', '2', oomPath]);
  assert.equal(r.code, 0, r.err);
  const v = JSON.parse(r.out) as {
    schema: string;
    ending: { kind: string; oom_kill: string; detail: string; signal_name: string };
    near_oom: { time_ns: number; before_end_ns: number };
    recent_growth: { from_ns: number; to_ns: number; lines: { function: string; line: number; bytes: number }[] };
    findings: { kind: string }[];
    gc: { bytes_freed: number; disabled: unknown[]; disabled_by_memlens: { from_ns: number; to_ns: number }[] };
    threads: { seen: number; alive_at_end: number };
    census: { path_groups: { pattern: string | null; type: string; count: number; bytes: number; example: string | null }[]; path_search: { partial: boolean } };
  };
  assert.equal(v.schema, 'memlens.verdict/1');
  assert.deepEqual([v.ending.kind, v.ending.oom_kill, v.ending.signal_name], ['signal', 'yes', 'SIGKILL']);
  assert.match(v.ending.detail, /^Memory cgroup out of memory: Killed process 4242/);
  assert.deepEqual(v.near_oom, { time_ns: 5.6 * SEC + 2 * ms, before_end_ns: 6 * SEC + 45 * ms - (5.6 * SEC + 2 * ms), label: 'cgroup memory usage 236 MiB of limit 256 MiB', count: 1 });
  assert.equal(v.recent_growth.from_ns, 4 * SEC);
  assert.equal(v.recent_growth.to_ns, 6 * SEC);
  assert.deepEqual(v.recent_growth.lines[0], { function: 'ingest', file: '/srv/job/job.py', line: 21, bytes: 20 * 3 * MiB, count: 20, stacks: 1, via: null });
  assert.deepEqual(v.findings.map((f) => f.kind).sort(), ['accumulation', 'collection-growth', 'gc-cycles', 'large-objects-kept']);
  assert.equal(v.gc.bytes_freed, 8 * MiB);
  // The census disabled the collector during its own pause: memlens's, not the program's.
  assert.deepEqual(v.gc.disabled, []);
  assert.deepEqual(v.gc.disabled_by_memlens, [{ from_ns: 5.6 * SEC + 2.4 * ms, to_ns: 5.6 * SEC + 2.9 * ms }]);
  assert.deepEqual(v.census.path_groups[0], { pattern: "module __main__['RECORDS'][*].data", type: 'bytearray', count: 54, bytes: 54 * (3 * MiB + 57), example: "module __main__['RECORDS'][53].data" });
  assert.equal(v.census.path_search.partial, false);
  assert.deepEqual([v.threads.seen, v.threads.alive_at_end], [5, 5]);
});

test('memlens verdict on a capture without snapshots says what it cannot tell', async () => {
  const p = new ProgramCapture();
  p.alloc(
    1,
    [
      ['<module>', 1],
      ['load', 3],
    ],
    5 * MiB,
  );
  const path = join(dir, 'bare.mlens');
  writeFileSync(path, p.finish());
  const r = await run(['verdict', path]);
  assert.equal(r.code, 0, r.err);
  golden('no-snapshots.verdict.txt', r.out);
  assert.match(r.out, /The capture ends abruptly \(no trailer, no exit record\): the process was killed or is still\s+running\. Whether the OOM killer ended it cannot be told\./);
  assert.match(r.out, /What grew in the last seconds\n {2}Unknown: the capture has no memory snapshot/);
  assert.match(r.out, /The capture cannot tell: the capture has no memory snapshots/);
});

test('memlens verdict: bad arguments and files', async () => {
  const bad = await run(['verdict', '--last', '0', oomPath]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /verdict: --last wants a number of seconds above 0 \(like 5 or 0\.5\), not '0'/);
  const missing = await run(['verdict', join(dir, 'nope.mlens')]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /nope\.mlens/);
  const empty = join(dir, 'empty.mlens');
  writeFileSync(empty, '');
  const e = await run(['verdict', empty]);
  assert.equal(e.code, 1);
  assert.notEqual(e.err, '');
});

test('memlens summary lists the findings after its table; stats has a GC section', async () => {
  const s = await run(['summary', oomPath]);
  assert.equal(s.code, 0, s.err);
  assert.match(s.out, /\nFindings \(memlens verdict shows all their evidence\)\n {2}1\. /);
  assert.match(s.out, /Memory accumulated steadily and was never freed\n +- ingest at job\.py:21: kept 171 MiB from 0\.100 s to 5\.800 s \(30\.2 MiB\/s\)/);
  assert.match(s.out, /Large objects kept alive long\n/);
  // The census's top types beside the allocation sites.
  assert.match(
    s.out,
    /\nWhat holds the memory: live Python objects at 5\.603 s, near OOM \(memlens census shows all of it\)\n {2}bytearray 55 \(165 MiB\), str 21,000 \(1\.81 MiB\), dict 2,100 \(625 KiB\); 167 MiB in 23,155 objects\.\n/,
  );
  // And its top path groups: what keeps those objects alive.
  assert.match(s.out, /\n {2}Held by module __main__\['RECORDS'\]\[\*\]\.data \(54 bytearray, 162 MiB\); module __main__\['CONFIG'\] \(1\n {2}bytearray, 3\.00 MiB\);/);
  // --leaks without --trace-python-allocators: the warning about pymalloc's arenas (as memray gives it).
  const leaks = await run(['summary', '--leaks', oomPath]);
  assert.match(leaks.out, /Note: Python's allocators were not traced \(no --trace-python-allocators\): leaked small objects show as pymalloc's arenas/);
  assert.doesNotMatch(s.out, /Python's allocators were not traced/, 'only for --leaks');
  const sj = JSON.parse((await run(['summary', '--json', oomPath])).out) as { findings: { kind: string }[] };
  assert.deepEqual(sj.findings.map((f) => f.kind).sort(), ['accumulation', 'collection-growth', 'gc-cycles', 'large-objects-kept']);
  const st = await run(['stats', oomPath]);
  assert.equal(st.code, 0, st.err);
  assert.match(st.out, /\nGarbage collector\n {2}Generation +Collections +Collected +Uncollectable +Total pause +Longest +Memory freed\n/);
  assert.match(st.out, /\n +2 +1 +120 +0 +3\.00 ms +3\.00 ms +8\.00 MiB\n/);
  const sjs = JSON.parse((await run(['stats', '--json', oomPath])).out) as { gc: { collections: number; bytes_freed: number; generations: { bytes_freed: number }[] } };
  assert.equal(sjs.gc.collections, 1);
  assert.equal(sjs.gc.bytes_freed, 8 * MiB);
  assert.equal(sjs.gc.generations[2]?.bytes_freed, 8 * MiB);
});

test('memlens verdict on the golden captures (cut by a kill, damaged, written by an older agent): each section says what it cannot know', async () => {
  const fixture = (name: string): string => join(FIXTURES, 'captures', name);
  interface V {
    census: unknown;
    census_error: string | null;
    findings: { kind: string }[];
    findings_not_looked_for: { what: string; why: string }[];
  }
  const check = async (name: string): Promise<{ text: string; v: V }> => {
    const t = await run(['verdict', fixture(name)]);
    assert.equal(t.code, 0, `${name}: ${t.err}`);
    const j = await run(['verdict', '--json', fixture(name)]);
    assert.equal(j.code, 0, j.err);
    return { text: t.out, v: JSON.parse(j.out) as V };
  };
  // Cut by a kill, no snapshot: nothing about time is claimed, and "none" is not said of what it cannot see.
  const cut = await check('truncated.mlens');
  assert.match(cut.text, /What grew in the last seconds\n {2}Unknown: the capture has no memory snapshot/);
  assert.match(cut.text, /\nFindings\n {2}None found\.\n {2}Not looked for: memory that accumulated, collections that only grew/);
  assert.doesNotMatch(cut.text, /no memory that accumulated steadily/);
  assert.ok(cut.v.findings_not_looked_for.some((n) => /no memory snapshot/.test(n.why)));
  // Every record type, aggregated, with a census whose JSON is not a census: said so, never "no census".
  const every = await check('every-record.mlens');
  assert.equal(every.v.census, null);
  assert.match(every.v.census_error ?? '', /'time' is not a number/);
  assert.match(every.text, /What holds the memory\n {2}The capture holds a census of live Python objects, but it cannot be read/);
  assert.ok(every.v.findings_not_looked_for.some((n) => /aggregated capture keeps totals per location/.test(n.why)));
  const damaged = await check('damaged.mlens');
  assert.match(damaged.text, /Note: The capture is damaged: 2 regions/);
  // A real capture by an earlier agent, without a limit or a census: both said.
  const older = await check('known-program.mlens');
  assert.match(older.text, /What holds the memory\n {2}No census of live Python objects in the capture/);
  assert.deepEqual(older.v.findings_not_looked_for, [{ what: 'one huge allocation', why: 'no memory limit was recorded to measure it against' }]);
  assert.match(older.text, /whole cgroup: every process in the process's cgroup/);
});
