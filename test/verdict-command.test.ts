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
  golden('oom-job.verdict.txt', r.out);
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
    gc: { bytes_freed: number };
    threads: { seen: number; alive_at_end: number };
  };
  assert.equal(v.schema, 'memlens.verdict/1');
  assert.deepEqual([v.ending.kind, v.ending.oom_kill, v.ending.signal_name], ['signal', 'yes', 'SIGKILL']);
  assert.match(v.ending.detail, /^Memory cgroup out of memory: Killed process 4242/);
  assert.deepEqual(v.near_oom, { time_ns: 5.6 * SEC + 2 * ms, before_end_ns: 6 * SEC + 45 * ms - (5.6 * SEC + 2 * ms), label: 'cgroup memory usage 236 MiB of limit 256 MiB', count: 1 });
  assert.equal(v.recent_growth.from_ns, 4 * SEC);
  assert.equal(v.recent_growth.to_ns, 6 * SEC);
  assert.deepEqual(v.recent_growth.lines[0], { function: 'ingest', file: '/srv/job/job.py', line: 21, bytes: 20 * 3 * MiB, count: 20 });
  assert.deepEqual(v.findings.map((f) => f.kind).sort(), ['collection-growth', 'gc-cycles', 'large-objects-kept']);
  assert.equal(v.gc.bytes_freed, 8 * MiB);
  assert.deepEqual([v.threads.seen, v.threads.alive_at_end], [5, 5]);
});

test('memlens verdict on a capture without snapshots says what it cannot tell', async () => {
  const p = new ProgramCapture();
  p.alloc(1, [['<module>', 1], ['load', 3]], 5 * MiB);
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
  assert.match(s.out, /Large objects kept alive long after the function that made them returned/);
  const sj = JSON.parse((await run(['summary', '--json', oomPath])).out) as { findings: { kind: string }[] };
  assert.deepEqual(sj.findings.map((f) => f.kind).sort(), ['collection-growth', 'gc-cycles', 'large-objects-kept']);
  const st = await run(['stats', oomPath]);
  assert.equal(st.code, 0, st.err);
  assert.match(st.out, /\nGarbage collector\n {2}Generation +Collections +Collected +Uncollectable +Total pause +Longest +Memory freed\n/);
  assert.match(st.out, /\n +2 +1 +120 +0 +3\.00 ms +3\.00 ms +8\.00 MiB\n/);
  const sjs = JSON.parse((await run(['stats', '--json', oomPath])).out) as { gc: { collections: number; bytes_freed: number; generations: { bytes_freed: number }[] } };
  assert.equal(sjs.gc.collections, 1);
  assert.equal(sjs.gc.bytes_freed, 8 * MiB);
  assert.equal(sjs.gc.generations[2]?.bytes_freed, 8 * MiB);
});
