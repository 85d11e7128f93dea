// bench/proc-memory.ts reads a process tree's anonymous and file-backed memory from /proc text: the fields
// of /proc/PID/status, the tree from the children files, the peaks summed over the tree's processes in one
// sample and kept field by field over the samples.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addSample, anonDifference, descendants, formatPeaks, maxPeaks, NO_PEAKS, parseChildren, parseStatus, sampleTree, unseenKb, type ProcMemory } from './proc-memory.js';

// A node process's status (Linux 6.x), cut: the memory lines among the others.
const NODE_STATUS = `Name:\tnode
Umask:\t0022
State:\tR (running)
Tgid:\t5636
Pid:\t5636
PPid:\t5635
VmPeak:\t 1225908 kB
VmSize:\t 1160372 kB
VmLck:\t       0 kB
VmHWM:\t   66012 kB
VmRSS:\t   64100 kB
RssAnon:\t   21480 kB
RssFile:\t   42588 kB
RssShmem:\t      32 kB
VmData:\t  102544 kB
VmExe:\t   44708 kB
Threads:\t7
voluntary_ctxt_switches:\t120
`;

// The same process a moment after its exit: a zombie has no memory lines.
const ZOMBIE_STATUS = `Name:\tnode
State:\tZ (zombie)
Tgid:\t5636
Pid:\t5636
PPid:\t5635
Threads:\t1
`;

test('parseStatus reads the resident memory of a status text, in KiB', () => {
  assert.deepEqual(parseStatus(NODE_STATUS), { rssKb: 64100, anonKb: 21480, fileKb: 42588, shmemKb: 32, hwmKb: 66012 });
});

test('parseStatus: a zombie (or kernel thread) holds nothing', () => {
  assert.equal(parseStatus(ZOMBIE_STATUS), undefined);
  assert.equal(parseStatus(''), undefined);
});

test('parseStatus refuses a memory line it cannot read rather than count it as 0', () => {
  assert.throws(() => parseStatus(NODE_STATUS.replace('RssAnon:\t   21480 kB', 'RssAnon:\t   21480 MB')), /RssAnon/);
});

test('parseChildren and descendants: the tree under a root, not the root itself', () => {
  assert.deepEqual(parseChildren('5636 5701 '), [5636, 5701]);
  assert.deepEqual(parseChildren(''), []);
  // time (10) → node (11) → node (12, a relaunch) and python (13); 12 listed twice (by two threads of 11).
  const kids: Record<number, number[]> = { 10: [11], 11: [12, 13, 12], 12: [], 13: [] };
  assert.deepEqual(
    descendants(10, (p) => kids[p] ?? []).sort((a, b) => a - b),
    [11, 12, 13],
  );
  assert.deepEqual(
    descendants(11, (p) => kids[p] ?? []).sort((a, b) => a - b),
    [12, 13],
  );
});

const proc = (anonKb: number, fileKb: number, hwmKb = anonKb + fileKb): ProcMemory => ({ rssKb: anonKb + fileKb, anonKb, fileKb, shmemKb: 0, hwmKb });

test('addSample sums one sample over the tree and keeps each field’s own peak over the samples', () => {
  let p = addSample(NO_PEAKS, [proc(1000, 40000)]);
  // A relaunch: two node processes at once, summed (their file pages too: each maps them).
  p = addSample(p, [proc(3000, 40000), proc(20000, 42000, 70000)]);
  // Later one process, more anonymous memory, fewer file pages.
  p = addSample(p, [proc(30000, 30000)]);
  // An empty sample (everything exited) changes nothing.
  p = addSample(p, []);
  assert.deepEqual(p, { anonKb: 30000, fileKb: 82000, shmemKb: 0, rssKb: 105000, hwmKb: 70000, samples: 3, processes: 2 });
});

test('addSample: one sample of two processes is their sum (anon, file, shmem, RSS), their largest VmHWM', () => {
  const a: ProcMemory = { rssKb: 64100, anonKb: 21480, fileKb: 42588, shmemKb: 32, hwmKb: 66012 };
  const b: ProcMemory = { rssKb: 45000, anonKb: 5000, fileKb: 39990, shmemKb: 10, hwmKb: 46000 };
  assert.deepEqual(addSample(NO_PEAKS, [a, b]), { anonKb: 26480, fileKb: 82578, shmemKb: 42, rssKb: 109100, hwmKb: 66012, samples: 1, processes: 2 });
});

test('maxPeaks, formatPeaks and anonDifference over several runs', () => {
  const a = addSample(NO_PEAKS, [proc(20480, 40960)]);
  const b = addSample(addSample(NO_PEAKS, [proc(10240, 30720)]), [proc(25600, 30720)]);
  assert.deepEqual(maxPeaks([a, b]), { anonKb: 25600, fileKb: 40960, shmemKb: 0, rssKb: 61440, hwmKb: 61440, samples: 3, processes: 1 });
  assert.equal(formatPeaks([a, b]), 'anon 25.0 (20.0/25.0) / file 40.0 MiB (HWM 60.0, 3 samples)');
  assert.equal(formatPeaks([a]), 'anon 20.0 / file 40.0 MiB (HWM 60.0, 1 samples)');
  assert.equal(formatPeaks([]), '–');
  assert.equal(formatPeaks([NO_PEAKS]), '–');
  assert.equal(anonDifference([a], [b]), '−5.0 MiB');
  assert.equal(anonDifference([b], [a]), '+5.0 MiB');
  assert.equal(anonDifference([a], []), '–');
});

test('unseenKb and formatPeaks: a peak whose moment no sample saw (VmHWM above the sampled sums) is told', () => {
  // memray's temporal flame graph of numpy_mix in round twenty-nine: VmHWM 138.3 MiB, samples at most 112.3 anon + 15.5 file.
  const spiky = addSample(NO_PEAKS, [proc(115000, 15872, 141619)]);
  assert.equal(unseenKb(spiky), 141619 - 115000 - 15872);
  assert.equal(formatPeaks([spiky]), 'anon 112.3 / file 15.5 MiB (HWM 138.3, 1 samples, ≥10.5 of the peak unseen)');
  // Less than 1 MiB short: the counters' imprecision, not told.
  const close = addSample(NO_PEAKS, [proc(20480, 40960, 61440 + 1000)]);
  assert.equal(unseenKb(close), 1000);
  assert.equal(formatPeaks([close]), 'anon 20.0 / file 40.0 MiB (HWM 61.0, 1 samples)');
  assert.equal(unseenKb(addSample(NO_PEAKS, [proc(20480, 40960, 1000)])), 0);
  // Shared memory is part of the RSS VmHWM counts.
  assert.equal(unseenKb(addSample(NO_PEAKS, [{ rssKb: 70000, anonKb: 20000, fileKb: 40000, shmemKb: 10000, hwmKb: 70000 }])), 0);
  // Over several runs, each run's own shortfall: a later run with more anon must not hide an earlier spike.
  const calm = addSample(NO_PEAKS, [proc(140000, 15872, 155872)]);
  assert.match(formatPeaks([spiky, calm]), /, ≥10\.5 of the peak unseen\)$/);
});

test('sampleTree finds this process as a child of its parent, with its memory', () => {
  const tree = sampleTree(process.ppid);
  assert.ok(tree.length >= 1);
  assert.ok(tree.every((p) => p.anonKb > 0 && p.rssKb >= p.anonKb));
});
