// The report commands on a capture whose every figure is known (test/support/known-capture.ts), through
// main() in-process: golden text at a fixed width with colour off, JSON, exports read back by their
// official readers (go tool pprof, speedscope's JSON schema), and the bad inputs that must give a clear
// message rather than a stack trace.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { CaptureWriter } from '../src/capture/encoder.js';
import { main } from '../src/cli/main.js';
import { MiB, KNOWN_HEADER, knownCapture } from './support/known-capture.js';
import { memoryIo } from './support/memory-io.js';

let dir = '';
let known = '';
let bigger = '';
let other = '';
let empty = '';
let aggregated = '';

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'memlens-reports-'));
  known = join(dir, 'known.mlens');
  bigger = join(dir, 'bigger.mlens');
  other = join(dir, 'other.mlens');
  empty = join(dir, 'empty.mlens');
  aggregated = join(dir, 'aggregated.mlens');
  writeFileSync(known, knownCapture());
  writeFileSync(bigger, knownCapture({ parseScale: 2 }));
  writeFileSync(other, knownCapture({ argv: ['python3', 'other.py'] }));
  writeFileSync(empty, new CaptureWriter({ header: KNOWN_HEADER }).finish());
  writeFileSync(aggregated, aggregatedCapture());
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string; bytes: Uint8Array }> {
  const io = memoryIo({ columns: 100 });
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err(), bytes: io.outBytes() };
}

const HIDDEN = 'Note: frames hidden: import system (--show-import-frames), interpreter and bootstrap (--show-internal-frames).';

test('summary: golden text', async () => {
  const r = await run('summary', known);
  assert.equal(r.err, '');
  assert.equal(r.code, 0);
  assert.equal(
    r.out,
    [
      'python3 app.py (PID 4242, CPython 3.11.7, 45 ms tracked)',
      'Allocations live at the high-water mark, at about 0.030 s: 11.1 MiB in 5 allocations.',
      '',
      'Location               <Total Memory>  Total %  Own Memory   Own %  Allocations',
      '─────────────────────  ──────────────  ───────  ──────────  ──────  ───────────',
      '<module> at app.py:30        8.00 MiB   72.32%         0 B   0.00%            2',
      'load at app.py:12            8.00 MiB   72.32%         0 B   0.00%            2',
      'parse at app.py:5            8.00 MiB   72.32%    8.00 MiB  72.32%            2',
      'work at worker.py:3          2.00 MiB   18.08%    2.00 MiB  18.08%            1',
      '<module> at app.py:31        1.00 MiB    9.04%         0 B   0.00%            1',
      'cache at app.py:20           1.00 MiB    9.04%    1.00 MiB   9.04%            1',
      '<module> at app.py:1         64.0 KiB    0.56%    64.0 KiB   0.56%            1',
      '',
      'How it ended: Tracking stopped at 0.045 s; why is not recorded (the agent that wrote this capture,',
      'older than this memlens, recorded every stop alike). Whether the process went on, and how it ended,',
      'are not in the capture.',
      '',
      HIDDEN,
      '',
    ].join('\n'),
  );
});

test('summary: --leaks, --sort own, --max-rows, --threshold, --show-import-frames, --json', async () => {
  const leaks = await run('summary', known, '--leaks', '--sort', 'own', '--max-rows', '2', '--show-import-frames');
  assert.equal(leaks.code, 0);
  const lines = leaks.out.split('\n');
  assert.equal(lines[1], 'Allocations still live at the end (when tracking stopped): 2.06 MiB in 3 allocations.');
  // The known capture's trailer is of an older agent (reason 1): why tracking stopped is not recorded.
  assert.match(leaks.out, /\nHow it ended: Tracking stopped at [\d.]+ m?s; why is not recorded/);
  assert.match(lines[3] as string, /<Own Memory>/);
  assert.match(lines[5] as string, /^cache at app\.py:20 +1\.00 MiB/);
  assert.match(lines[6] as string, /^work at worker\.py:3 +1\.00 MiB/);
  assert.equal(lines[7], '… 3 more locations (--max-rows, --threshold)');

  const thr = await run('summary', known, '--threshold', '10');
  assert.doesNotMatch(thr.out, /cache at/);
  assert.match(thr.out, /work at worker\.py:3/);

  const json = JSON.parse((await run('summary', known, '--json')).out) as { schema: string; set: string; total_bytes: number; rows: { function: string; own_bytes: number }[] };
  assert.equal(json.schema, 'memlens.summary/1');
  assert.equal(json.set, 'peak');
  assert.equal(json.total_bytes, 11 * MiB + 64 * 1024);
  assert.deepEqual(
    json.rows.filter((r) => r.own_bytes > 0).map((r) => [r.function, r.own_bytes]),
    [
      ['parse', 8 * MiB],
      ['work', 2 * MiB],
      ['cache', MiB],
      ['<module>', 64 * 1024],
    ],
  );
});

test('summary --temporary-allocations finds the allocation freed right away', async () => {
  const r = await run('summary', known, '--temporary-allocations');
  assert.equal(r.code, 0);
  assert.match(r.out, /Temporary allocations \(freed after at most 1 other allocation by their thread\): 100 B in 1 allocation\./);
  assert.match(r.out, /parse at app\.py:5 +100 B/);
});

test('summary of a time window: the peak inside it', async () => {
  // Snapshots at 5, 20, 30, 40 ms: a window from 31 ms starts after the big frees.
  const r = await run('summary', known, '--from', '0.031');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /Allocations live at the high-water mark inside the window 0\.031 s – end.*: 2\.06 MiB in 3 allocations\./);
  const early = await run('summary', known, '--to', '0.025');
  assert.match(early.out, /: 11\.1 MiB in 5 allocations\./);
});

test('stats: golden text', async () => {
  const r = await run('stats', known);
  assert.equal(r.code, 0);
  assert.equal(
    r.out,
    [
      'python3 app.py (PID 4242, CPython 3.11.7, 45 ms tracked)',
      '',
      'Totals',
      '  Allocations:       6',
      '  Memory allocated:  11.1 MiB',
      '  Frees:             3',
      '  Peak tracked heap: 11.1 MiB at about 0.030 s',
      '  Live at the end:   2.06 MiB in 3 allocations',
      '  Peak RSS:          42.0 MiB',
      '  Duration:          45 ms',
      '  Ended:             tracking stopped (why is not recorded)',
      '  Threads:           2',
      '',
      'Memory over time (snapshots; the highest heap and RSS among them)',
      '       time         RSS        anon        file        heap',
      '    0.005 s    20.0 MiB    12.0 MiB    8.00 MiB         0 B',
      '    0.020 s    40.0 MiB    32.0 MiB    8.00 MiB    9.06 MiB',
      '    0.030 s    42.0 MiB    34.0 MiB    8.00 MiB    11.1 MiB',
      '    0.040 s    30.0 MiB    22.0 MiB    8.00 MiB    2.06 MiB',
      '',
      'Allocation sizes (bytes, from – below)',
      '      64 B – 256 B  █████████████              1',
      '     256 B – 1 KiB                             0',
      '     1 KiB – 4 KiB                             0',
      '    4 KiB – 16 KiB                             0',
      '   16 KiB – 64 KiB                             0',
      '  64 KiB – 256 KiB  █████████████              1',
      '   256 KiB – 1 MiB                             0',
      '     1 MiB – 4 MiB  █████████████████████████  2',
      '     4 MiB – 8 MiB  █████████████████████████  2',
      '',
      'Allocators',
      '  malloc               4   66.67%    8.06 MiB',
      '  mmap                 1   16.67%    2.00 MiB',
      '  calloc               1   16.67%    1.00 MiB',
      '',
      'Top 4 locations by memory allocated',
      '  1. parse at app.py:5  8.00 MiB',
      '  2. work at worker.py:3  2.00 MiB',
      '  3. cache at app.py:20  1.00 MiB',
      '  4. <module> at app.py:1  64.0 KiB',
      '',
      'Top 4 locations by number of allocations',
      '  1. parse at app.py:5  3',
      '  2. work at worker.py:3  1',
      '  3. cache at app.py:20  1',
      '  4. <module> at app.py:1  1',
      '',
      'Top 4 modules by memory allocated (stdlib left out)',
      '  1. app  9.06 MiB in 5 allocations',
      '  2. worker  2.00 MiB in 1 allocation',
      '',
      'Top 4 modules by number of allocations (stdlib left out)',
      '  1. app  5 allocations, 9.06 MiB',
      '  2. worker  1 allocation, 2.00 MiB',
      '',
      'Garbage collector',
      '  No collection recorded: the capture has no record of the garbage collector (the agent writes its',
      '    settings when tracking starts).',
      '',
    ].join('\n'),
  );
});

test('stats --json keeps memray key names', async () => {
  const r = await run('stats', known, '--json', '-n', '2');
  const j = JSON.parse(r.out) as Record<string, unknown>;
  assert.equal(j['schema'], 'memlens.stats/1');
  assert.equal(j['total_num_allocations'], 6);
  assert.equal(j['total_bytes_allocated'], 11 * MiB + 64 * 1024 + 100);
  assert.equal(j['peak_memory'], 11 * MiB + 64 * 1024);
  assert.deepEqual(j['allocator_type_distribution'], { MALLOC: 4, MMAP: 1, CALLOC: 1 });
  assert.deepEqual(j['top_allocations_by_size'], [
    { location: 'parse:/srv/app/app.py:5', size: 8 * MiB + 100 },
    { location: 'work:/srv/app/worker.py:3', size: 2 * MiB },
  ]);
  assert.deepEqual(j['top_modules_by_allocation_size'], [
    { module: 'app', num_allocations: 5, total_bytes: 9 * MiB + 64 * 1024 + 100 },
    { module: 'worker', num_allocations: 1, total_bytes: 2 * MiB },
  ]);
});

test('tree: golden text', async () => {
  const r = await run('tree', known);
  assert.equal(r.code, 0);
  assert.equal(
    r.out,
    [
      'python3 app.py (PID 4242, CPython 3.11.7, 45 ms tracked)',
      'Allocations live at the high-water mark, at about 0.030 s: 11.1 MiB in 5 allocations.',
      '',
      '11.1 MiB 100.00%  <all>',
      '├─ 8.00 MiB 72.32%  <module> at app.py:30',
      '│  └─ 8.00 MiB 72.32%  load at app.py:12',
      '│     └─ 8.00 MiB 72.32%  parse at app.py:5  (own 8.00 MiB, 2 allocations)',
      '├─ 2.00 MiB 18.08%  work at worker.py:3  (own 2.00 MiB, 1 allocation)',
      '├─ 1.00 MiB 9.04%  <module> at app.py:31',
      '│  └─ 1.00 MiB 9.04%  cache at app.py:20  (own 1.00 MiB, 1 allocation)',
      '└─ 64.0 KiB 0.56%  <module> at app.py:1  (own 64.0 KiB, 1 allocation)',
      '',
      HIDDEN,
      '',
    ].join('\n'),
  );
  const two = await run('tree', known, '-n', '2', '--show-internal-frames');
  assert.match(two.out, /^10\.0 MiB 90\.40% {2}<the 2 biggest stacks>\n├─ 8\.00 MiB 72\.32% {2}_run_module_as_main at \/usr\/lib\/python3\.11\/runpy\.py:198\n/m);
  assert.match(two.out, /2 smaller stacks \(1\.06 MiB\) left out: -n shows more\./);
});

test('diff: golden text, JSON, warning on different programs, --fail-on-growth exit status', async () => {
  const r = await run('diff', known, bigger);
  assert.equal(r.code, 0);
  assert.equal(
    r.out,
    [
      'Peak tracked heap: 11.1 MiB → 19.1 MiB (+8.00 MiB)',
      'Live at the end: 2.06 MiB → 2.06 MiB (0 B)',
      '',
      'Stacks by growth at the peak, largest first:',
      '   +8.00 MiB  8.00 MiB → 16.0 MiB',
      '      <module> at app.py:30',
      '      load at app.py:12',
      '      parse at app.py:5',
      '',
    ].join('\n'),
  );
  const fail = await run('diff', known, bigger, '--fail-on-growth', '7MB');
  assert.equal(fail.code, 3);
  assert.match(fail.err, /the peak grew by 8\.00 MiB, more than --fail-on-growth 7\.00 MiB/);
  assert.equal((await run('diff', known, bigger, '--fail-on-growth', '9MiB')).code, 0);
  assert.equal((await run('diff', known, bigger, '--leaks', '--fail-on-growth', '1')).code, 0);
  const j = JSON.parse((await run('diff', known, bigger, '--json')).out) as { peak: { delta: number }; stacks: { peak: { delta: number } }[] };
  assert.equal(j.peak.delta, 8 * MiB);
  assert.equal(j.stacks[0]?.peak.delta, 8 * MiB);
  const o = await run('diff', known, other);
  assert.equal(o.code, 0);
  assert.match(o.err, /ran different programs \(app\.py \/ other\.py\): comparing anyway/);
});

test('export pprof is read back by go tool pprof', async () => {
  const out = join(dir, 'known.pb.gz');
  const r = await run('export', known, '--format', 'pprof', '-o', out);
  assert.equal(r.code, 0, r.err);
  assert.ok(gunzipSync(readFileSync(out)).length > 0);
  const raw = execFileSync('go', ['tool', 'pprof', '-raw', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  assert.match(raw, /alloc_objects\/count alloc_space\/bytes inuse_objects\/count inuse_space\/bytes\[dflt\]/);
  // parse: 3 allocations (8 MiB + 100 B) in all, 2 (8 MiB) live at the peak; the stack is leaf first.
  assert.match(raw, /^ +3 +8388708 +2 +8388608: (\d+) (\d+) (\d+) $/m);
  assert.match(raw, /^ +1 +2097152 +1 +2097152: \d+ $/m);
  assert.match(raw, /^ +\d+: 0x0 M=1 parse \/srv\/app\/app\.py:5:0 s=0/m);
  assert.match(raw, /^ +\d+: 0x0 M=1 <module> \/srv\/app\/app\.py:30:0 s=0/m);
  const top = execFileSync('go', ['tool', 'pprof', '-top', '-sample_index=inuse_space', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  assert.match(top, /11(\.06)?MB total/);
  const leaksOut = join(dir, 'leaks.pb.gz');
  assert.equal((await run('export', known, '-f', 'pprof', '--leaks', '-o', leaksOut)).code, 0);
  const rawLeaks = execFileSync('go', ['tool', 'pprof', '-raw', leaksOut], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  assert.match(rawLeaks, /^ +3 +8388708 +0 +0: /m);
  assert.match(rawLeaks, /^ +1 +2097152 +1 +1048576: /m);
});

test("export speedscope is accepted by speedscope's own schema", async () => {
  const require = createRequire(import.meta.url);
  const schema = JSON.parse(readFileSync(require.resolve('speedscope/dist/release/file-format-schema.json'), 'utf8')) as object;
  const Ajv = (require('ajv') as { default: new (o: object) => { compile(s: object): ((d: unknown) => boolean) & { errors?: unknown } } }).default;
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  for (const extra of [[], ['--leaks'], ['--temporary-allocations']]) {
    const r = await run('export', known, '--format', 'speedscope', '-o', '-', ...extra);
    assert.equal(r.code, 0, r.err);
    const doc = JSON.parse(r.out) as { profiles: { weights: number[]; endValue: number }[] };
    assert.ok(validate(doc), JSON.stringify(validate.errors));
    assert.equal(
      doc.profiles[0]?.endValue,
      doc.profiles[0]?.weights.reduce((a, b) => a + b, 0),
    );
  }
  // A schema that fails a broken document shows the check can fail.
  assert.equal(validate({ $schema: 'https://www.speedscope.app/file-format-schema.json', shared: { frames: [{}] }, profiles: [] }), false);
});

test('export folded, csv and gprof2dot: exact text', async () => {
  const folded = await run('transform', 'folded', known, '-o', '-');
  assert.equal(
    folded.out,
    [
      '<module> (/srv/app/app.py:30);load (/srv/app/app.py:12);parse (/srv/app/app.py:5) 8388608',
      'work (/srv/app/worker.py:3) 2097152',
      '<module> (/srv/app/app.py:31);cache (/srv/app/app.py:20) 1048576',
      '<module> (/srv/app/app.py:1) 65536',
      '',
    ].join('\n'),
  );
  const csv = await run('export', known, '-f', 'csv', '-o', '-', '--leaks');
  assert.equal(
    csv.out,
    [
      'allocator,num_allocations,size,tid,thread_name,stack_trace',
      'CALLOC,1,1048576,100,MainThread,cache;/srv/app/app.py;20|<module>;/srv/app/app.py;31',
      'MMAP,1,1048576,101,worker,work;/srv/app/worker.py;3',
      'MALLOC,1,65536,100,MainThread,<module>;/srv/app/app.py;1',
      '',
    ].join('\r\n'),
  );
  const g = JSON.parse((await run('export', known, '-f', 'gprof2dot', '-o', '-')).out) as { events: { callchain: number[]; cost: number[] }[]; functions: { name: string }[] };
  assert.deepEqual(g.events[0], { callchain: [0, 1, 2], cost: [8 * MiB] });
  assert.deepEqual(
    g.functions.slice(0, 3).map((f) => f.name),
    ['parse', 'load', '<module>'],
  );
});

test('export writes next to the capture and refuses to overwrite without --force', async () => {
  const r = await run('export', known, '-f', 'folded');
  assert.equal(r.code, 0, r.err);
  assert.match(readFileSync(join(dir, 'known.folded'), 'utf8'), /parse/);
  const again = await run('export', known, '-f', 'folded');
  assert.equal(again.code, 1);
  assert.match(again.err, /known\.folded exists already\n {2}hint: Give --force/);
  assert.equal((await run('export', known, '-f', 'folded', '--force')).code, 0);
});

test('bad input: a clear message, never a stack trace', async () => {
  const unknownFormat = await run('export', known, '--format', 'svg');
  assert.equal(unknownFormat.code, 2);
  assert.equal(unknownFormat.err, "memlens: error: export: unknown format 'svg': memlens writes pprof, speedscope, folded, csv, gprof2dot\n");

  const emptySummary = await run('summary', empty);
  assert.equal(emptySummary.code, 0);
  assert.match(emptySummary.out, /This capture holds no allocations: tracking saw none/);
  const emptyStats = await run('stats', empty);
  assert.match(emptyStats.out, /This capture holds no allocations/);
  const emptyExport = await run('export', empty, '-f', 'folded', '-o', '-');
  assert.equal(emptyExport.code, 1);
  assert.match(emptyExport.err, /nothing to export: This capture holds no allocations/);

  const aggTemp = await run('summary', aggregated, '--temporary-allocations');
  assert.equal(aggTemp.code, 1);
  assert.match(aggTemp.err, /^memlens: error: an aggregated capture cannot show temporary allocations/);
  assert.match(aggTemp.err, /hint: Capture again without --aggregate/);
  const aggWindow = await run('tree', aggregated, '--from', '1');
  assert.equal(aggWindow.code, 1);
  assert.match(aggWindow.err, /an aggregated capture cannot show the peak inside a time window/);

  const late = await run('summary', known, '--from', '60');
  assert.equal(late.code, 1);
  assert.match(late.err, /no memory snapshot at or after 60\.000 s: the window starts after tracking ended/);

  const both = await run('summary', known, '--leaks', '--temporary-allocations');
  assert.equal(both.code, 2);
  const missing = await run('stats', join(dir, 'nope.mlens'));
  assert.equal(missing.code, 1);
  assert.match(missing.err, /nope\.mlens: no such file/);
  for (const r of [unknownFormat, emptyExport, aggTemp, aggWindow, late, both, missing]) assert.doesNotMatch(r.err, /^\s+at /m);
});

test('aggregated captures answer peak, leaks and stats, and say what they cannot', async () => {
  const s = await run('summary', aggregated);
  assert.equal(s.code, 0, s.err);
  assert.match(s.out, /Allocations live at the high-water mark: 6\.00 MiB in 2 allocations\./);
  const l = await run('summary', aggregated, '--leaks');
  assert.match(l.out, /Allocations still live at the end \(.*\): 1\.00 MiB in 1 allocation\./);
  const st = await run('stats', aggregated);
  assert.match(st.out, /\(not in an aggregated capture: it keeps totals per location, not each size\)/);
  assert.match(st.out, /Note: not in this capture: allocation-size histogram/);
  assert.match(st.out, /Allocations: +3\n/);
});

/** An aggregated capture: two locations, peak 6 MiB (4 + 2), at the end 1 MiB of the second. */
function aggregatedCapture(): Uint8Array {
  const w = new CaptureWriter({ header: { ...KNOWN_HEADER, options: 4 } });
  w.meta({ type: 'code', stream: 1, codeId: 1, name: 'big', qualname: 'big', filename: '/srv/app/app.py', firstLineNo: 3, linetableKind: 3, linetable: new Uint8Array(0) });
  w.meta({ type: 'code', stream: 1, codeId: 2, name: 'small', qualname: 'small', filename: '/srv/app/app.py', firstLineNo: 9, linetableKind: 3, linetable: new Uint8Array(0) });
  const big = w.frame(1, 0, 1, 0);
  const small = w.frame(1, 0, 2, 0);
  const entry = (stack: number, e: Partial<Record<string, number>>): Record<string, number> => ({
    stream: 1,
    stack,
    nativeStack: 0,
    allocator: 0,
    totalCount: 0,
    totalBytes: 0,
    liveCount: 0,
    liveBytes: 0,
    savedPeakCount: 0,
    savedPeakBytes: 0,
    updatedSeq: 0,
    ...e,
  });
  w.meta({
    type: 'checkpoint',
    stream: 0,
    seq: 10,
    timeNs: 1e9,
    heap: 6 * MiB,
    peakHeap: 6 * MiB,
    peakSeq: 8,
    entries: [
      entry(big, { totalCount: 1, totalBytes: 4 * MiB, liveCount: 1, liveBytes: 4 * MiB, updatedSeq: 3 }),
      entry(small, { totalCount: 1, totalBytes: 2 * MiB, liveCount: 1, liveBytes: 2 * MiB, updatedSeq: 8 }),
    ],
  } as never);
  // Later: big freed (after the peak: its saved peak is 4 MiB), small shrinks to 1 MiB by a new allocation.
  w.meta({
    type: 'checkpoint',
    stream: 0,
    seq: 20,
    timeNs: 2e9,
    heap: MiB,
    peakHeap: 6 * MiB,
    peakSeq: 8,
    entries: [
      entry(big, { totalCount: 1, totalBytes: 4 * MiB, liveCount: 0, liveBytes: 0, savedPeakCount: 1, savedPeakBytes: 4 * MiB, updatedSeq: 12 }),
      entry(small, { totalCount: 2, totalBytes: 3 * MiB, liveCount: 1, liveBytes: MiB, savedPeakCount: 1, savedPeakBytes: 2 * MiB, updatedSeq: 15 }),
    ],
  } as never);
  return w.finish();
}

test('colour by share in a terminal (or FORCE_COLOR), none with NO_COLOR or in a pipe', async () => {
  const tty = memoryIo({ columns: 100, stdoutTTY: true });
  assert.equal(await main(['summary', known], tty), 0);
  // parse holds 72% of the peak: red (above 60%); work 18%: green; the header is bold.
  assert.ok(tty.out().includes('\u001b[31m      8.00 MiB\u001b[0m'));
  assert.ok(tty.out().includes('\u001b[32m      2.00 MiB\u001b[0m'));
  const noColor = memoryIo({ columns: 100, stdoutTTY: true, env: { NO_COLOR: '1' } });
  await main(['summary', known], noColor);
  assert.ok(!noColor.out().includes('\u001b['));
  const forced = memoryIo({ columns: 100, env: { FORCE_COLOR: '1' } });
  await main(['stats', known], forced);
  assert.ok(forced.out().includes('\u001b[1mTotals\u001b[0m'));
});

test('reading shows a progress bar on stderr and erases it', async () => {
  const { loadModel } = await import('../src/cli/load-model.js');
  const { terminalSafe } = await import('../src/util/terminal-text.js');
  const raw = memoryIo();
  // main() makes stderr terminal-safe (its markers become the real sequences there); here by hand.
  const io = { ...raw, stderr: terminalSafe(raw.stderr) };
  const model = await loadModel(io, known, { forceProgress: true });
  assert.equal(model.allocations, 6);
  assert.match(raw.err(), /^\rreading .*known\.mlens \[#+\] 100% /);
  assert.ok(raw.err().endsWith('\r\u001b[K'));
});
