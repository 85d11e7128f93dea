// Tests of the small pure helpers: formatting, search, CSV, the location table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameFlag } from '../../src/report/html/payload.js';
import { HOSTILE_NAME, knownProgram } from '../../test/support/synthetic-profile.js';
import { timelineCsv } from './csv.js';
import { fitLabel } from './flame.js';
import { formatBytes, formatDuration, formatPercent, niceByteStep, niceStep, shortPath } from './format.js';
import { searchFrames } from './search.js';
import { locationRows } from './table.js';
import { buildTree } from './tree.js';
import { baseValues } from './window.js';

const MiB = 1024 * 1024;

test('bytes, durations and percentages read as people write them', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(600 * MiB), '600 MiB');
  assert.equal(formatBytes(1053 * MiB), '1.03 GiB');
  assert.equal(formatDuration(850e3), '850 µs');
  assert.equal(formatDuration(6.5e9), '6.50 s');
  assert.equal(formatDuration(125e9), '2 min 05 s');
  assert.equal(formatPercent(1, 3), '33.3%');
  assert.equal(formatPercent(1, 0), '–');
  assert.equal(niceStep(10e9, 5), 2e9);
  assert.equal(niceByteStep(1600 * MiB, 4), 500 * MiB);
  assert.equal(shortPath('/venv/lib/python3.11/site-packages/numpy/_core/numeric.py'), 'numpy/_core/numeric.py');
  assert.equal(shortPath('/usr/lib/python3.11/json/decoder.py'), 'json/decoder.py');
  assert.equal(shortPath('/srv/app/app.py'), '/srv/app/app.py');
});

test('search matches function or file, case-insensitively, or a /regex/', () => {
  const data = knownProgram();
  const names = (q: string) => {
    const r = searchFrames(data, q);
    return Array.from(r.matches.keys())
      .filter((f) => r.matches[f] === 1)
      .map((f) => data.strings[data.frames.name[f]!]);
  };
  assert.deepEqual(names('LOAD_'), ['load_matrix']);
  assert.deepEqual(names('numeric.py'), ['zeros']);
  assert.deepEqual(names('/^read_|^zeros$/'), ['zeros', 'read_chunk']);
  assert.deepEqual(names('<img'), [HOSTILE_NAME]);
  const bad = searchFrames(data, '/(/');
  assert.equal(bad.frames, 0);
  assert.match(bad.error ?? '', /Invalid regular expression/);
});

test('the location table: own and total bytes per frame, recursion counted once', () => {
  const data = knownProgram();
  const tree = buildTree(data, baseValues(data, -1), { inverted: false, hideMask: FrameFlag.Interpreter | FrameFlag.Import | FrameFlag.Memlens });
  const rows = locationRows(tree, data.frames.name.length);
  const get = (name: string, line?: number) =>
    rows.filter((r) => data.strings[data.frames.name[r.frame]!] === name && (line === undefined || data.frames.line[r.frame] === line)).map((r) => [r.own / MiB, r.total / MiB, r.ownCount]);
  assert.deepEqual(get('zeros'), [[600, 600, 3]]);
  assert.deepEqual(get('main', 72), [[0, 600, 0]]);
  assert.deepEqual(get('<module>', 80), [[0, 803, 0]]);
  assert.deepEqual(get('read_chunk'), [[250, 250, 150]]);
});

test('the timeline CSV has a header and one row per snapshot', () => {
  const data = knownProgram();
  const lines = timelineCsv(data).trimEnd().split('\n');
  assert.equal(lines[0], 'time_s,rss_bytes,rss_anon_bytes,rss_file_bytes,heap_bytes,cgroup_usage_bytes');
  assert.equal(lines.length, data.timeline.time.length + 1);
  assert.equal(lines[1], `0.000000,${153 * MiB},${103 * MiB},${50 * MiB},${3 * MiB},${163 * MiB}`);
});

test('a flame frame shows the widest label that fits: with its source line, with file:line, its name, cut', () => {
  const labels = ['load (job.py:12)  data = np.ones(n)', 'load (job.py:12)', 'load'];
  assert.equal(fitLabel(labels, 80), 'load (job.py:12)  data = np.ones(n)');
  assert.equal(fitLabel(labels, 20), 'load (job.py:12)');
  assert.equal(fitLabel(labels, 4), 'load');
  assert.equal(fitLabel(labels, 3), 'lo…');
});
