// A capture on a full disk: `memlens run` with its capture on a tmpfs of 1 MiB that the capture fills long
// before the program ends. The program is unharmed (its output and exit status as without memlens), memlens
// says so in one line and exits with the program's status, and the reports say the capture stops where the
// disk filled up (the agent's CAPTURE_STOPPED marker, agent/src/sink.c) instead of that the writer was
// probably killed. The file system is made and removed by the test (mount needs root, which the tests have).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { finishCaptureFile } from '../src/cli/capture-file.js';
import { main } from '../src/cli/main.js';
import { STREAM_MEMLENS } from '../src/capture/format.js';
import { writeRealistic } from './support/synthetic.js';
import { encodeAppendix } from '../src/capture/encoder.js';
import { memlensRun, tempDir } from './support/memlens-run.js';
import { memoryIo } from './support/memory-io.js';
import { REPO_ROOT, testPythons } from './support/pythons.js';

const tmp = tempDir('memlens-full-disk-');
const mnt = join(tmp.dir, 'small');
const PROGRAM = join(REPO_ROOT, 'test', 'programs', 'fill_capture.py');
/** Enough events for about 1.9 MB of uncompressed capture (format 3): twice the file system. */
const ITERATIONS = '2000000';
/** What the program prints: the sum of the sizes it allocated (computed the same way). */
let expected = 0;
for (let i = 0; i < Number(ITERATIONS); i++) expected += 64 + (i % 500);

before(() => {
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'memlens-test', mnt]);
});
after(() => {
  execFileSync('umount', [mnt]);
  tmp.remove();
});

function emptyMount(): void {
  for (const f of readdirSync(mnt)) rmSync(join(mnt, f), { force: true });
}

/** A whole capture as the agent writes it, blocks of 32 KiB, ending on its TRAILER (test/support/synthetic.ts). */
function realisticCapture(): Buffer {
  const parts: Uint8Array[] = [];
  writeRealistic({ events: 40_000, sink: (b) => parts.push(b) });
  return Buffer.concat(parts);
}

/** Fills what is left of the file system with a file written `chunk` bytes at a time, until ENOSPC. */
function fillDisk(chunk: number): void {
  try {
    for (;;) writeFileSync(join(mnt, 'filler'), new Uint8Array(chunk), { flag: 'a' });
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
  }
}

async function report(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo({ cwd: tmp.dir, columns: 200 });
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
}

const py = testPythons().find((p) => !p.system && p.minor === 12) ?? testPythons()[0]!;

for (const compress of [true, false]) {
  test(`the disk fills up under the capture (${compress ? 'compressed as it runs' : '--no-compress'}): the program is unharmed, memlens says it in one line`, async () => {
    emptyMount();
    const capture = join(mnt, 'c.mlens');
    const r = await memlensRun(
      { python: py.python, program: [PROGRAM, ITERATIONS], output: null, runArgs: ['-o', capture, ...(compress ? [] : ['--no-compress'])], verbose: true, timeoutMs: 300_000 },
      tmp.dir,
    );
    assert.equal(r.stdout, `program done ${expected}\n`);
    assert.equal(r.code, 3, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /^memlens: the disk filled up \d+\.\d{3} s into the run: \S*c\.mlens \([\d.]+ [KM]iB\) holds what was recorded until then; the program went on untracked \(memlens verdict \S*c\.mlens\)$/,
    );

    const verdict = await report('verdict', capture);
    assert.equal(verdict.code, 0, verdict.err);
    assert.equal(verdict.err, '');
    // The agent's own CAPTURE_STOPPED marker, or memlens's when the agent's found no room (the copy compressed
    // alongside can take the room the agent freed by cutting off its failed block: capture-file.ts,
    // inferredStop()); which one depends on how far the compressor was when the disk filled (seen in CI beside a
    // benchmark, round twenty-nine). Both say the disk filled.
    assert.match(
      verdict.out,
      /Exited with status 3 at [\d.]+ s; not killed \(so not by the OOM killer\)\. The capture stops at [\d.]+\s+s: the disk filled up \(ENOSPC: no space left on the device(?: \(found by memlens when the\s+program\s+ended\))?\)/,
    );
    const summary = await report('summary', capture);
    assert.equal(summary.code, 0, summary.err);
    // A whole capture: no cut block ("the writer was probably killed"), no damage.
    assert.equal(summary.err, '');
    assert.match(summary.out, /Note: The capture stops at [\d.]+ s: the disk filled up/);
    assert.doesNotMatch(summary.out, /(?<!not )killed|no trailer/);
    const parse = await report('parse', capture);
    assert.match(parse.out, /^marker .* kind="capture-stopped" label="ENOSPC: no space left on the device(?: \(found by memlens when the program ended\))?"$/m);
    assert.match(parse.out, /^exit .* exit_code=3 signal=0/m);
  });
}

test('a disk with less than DISK_ROOM_LEFT free that the capture does not fill: it is written whole, uncompressed, and memlens says why', async () => {
  emptyMount();
  const capture = join(mnt, 'c.mlens');
  const r = await memlensRun({ python: py.python, program: [PROGRAM, '20000'], output: null, runArgs: ['-o', capture], verbose: true, timeoutMs: 120_000 }, tmp.dir);
  assert.equal(r.code, 3, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 3, r.stderr);
  assert.match(lines[0]!, /^memlens: warning: \S*c\.mlens left uncompressed: less than 16 MiB free on its file system$/);
  assert.match(lines[1]!, /^memlens: capture written to \S*c\.mlens/);
  // The agent's blocks as it wrote them (no compressed block), every one of them, and its TRAILER.
  const parse = await report('parse', capture);
  assert.doesNotMatch(parse.out, /^block .*flags=0x[123]/m);
  assert.match(parse.out, /^trailer .* reason="exit"/m);
  assert.deepEqual(readdirSync(mnt), ['c.mlens'], 'no copy left behind');
});

test('a disk full before the header: tracking does not start, one line says why, nothing runs half-tracked', async () => {
  emptyMount();
  // Fill it: what is left cannot hold a capture's header.
  fillDisk(64 * 1024);
  const capture = join(mnt, 'c.mlens');
  const r = await memlensRun({ python: py.python, program: [PROGRAM, '1000'], output: null, runArgs: ['-o', capture], verbose: true, timeoutMs: 120_000 }, tmp.dir);
  assert.equal(r.stdout, '');
  assert.equal(r.code, 70);
  assert.equal(r.stderr, 'memlens: error: cannot start tracking: cannot write the capture header: No space left on device\n');
});

test("no room even for memlens's EXIT record: it gives up the capture's last block for it, and says the disk filled up", async () => {
  emptyMount();
  // A capture written whole (no agent marker in it), then a disk with not one byte left. Blocks of 32 KiB
  // as the agent writes them: giving one up frees pages of the file system.
  const capture = join(mnt, 'realistic.mlens');
  const body = realisticCapture();
  // A NOTE that makes the file end on a page boundary: the last page has no room left either.
  const note = (n: number): Uint8Array => encodeAppendix([{ type: 'note', stream: 0, kind: 1, text: 'x'.repeat(n) }]);
  let n = 4096 - ((body.length + note(0).length) % 4096);
  while ((body.length + note(n).length) % 4096 !== 0) n--;
  writeFileSync(capture, Buffer.concat([body, note(n)]));
  fillDisk(4096);
  const exit = { type: 'exit', stream: STREAM_MEMLENS, timeNs: 50_000_000, exitCode: 3, signal: 0, oomKill: 0, detail: '' } as const;
  const end = await finishCaptureFile(capture, exit);
  assert.equal(end.exitWritten, true);
  assert.ok(end.droppedForRoom > 0);
  assert.match(end.stopped?.why ?? '', /^ENOSPC: no space left on the device/);
  const verdict = await report('verdict', capture);
  assert.equal(verdict.err, '');
  assert.match(verdict.out, /Exited with status 3 at [\d.]+ s; not killed \(so not by the OOM killer\)\. The capture stops at [\d.]+\s+s: the disk filled up/);
});

test("the agent's last words lost on a full disk (no marker, no TRAILER) after a plain exit: memlens finds the disk full and says the capture stops there", async () => {
  emptyMount();
  // What the agent leaves when its CAPTURE_STOPPED marker and TRAILER find no room: whole blocks, then nothing.
  const capture = join(mnt, 'lost.mlens');
  const whole = realisticCapture();
  const { decodeCapture } = await import('../src/capture/decoder.js');
  let trailerBlock = -1;
  let lastOffset = -1;
  decodeCapture(whole, {
    alloc: () => undefined,
    free: () => undefined,
    meta: (r) => {
      if (r.type === 'trailer') trailerBlock = lastOffset;
    },
    block: (b) => {
      lastOffset = b.offset;
    },
  });
  assert.ok(trailerBlock > 0);
  writeFileSync(capture, whole.subarray(0, trailerBlock));
  fillDisk(4096);
  const exit = { type: 'exit', stream: STREAM_MEMLENS, timeNs: 50_000_000, exitCode: 3, signal: 0, oomKill: 0, detail: '' } as const;
  const end = await finishCaptureFile(capture, exit);
  assert.equal(end.exitWritten, true);
  assert.match(end.stopped?.why ?? '', /^ENOSPC: no space left on the device \(found by memlens/);
  const verdict = await report('verdict', capture);
  assert.equal(verdict.err, '');
  assert.match(verdict.out, /Exited with status 3 at [\d.]+ s; not killed \(so not by the OOM killer\)\. The capture stops at [\d.]+\s+s: the disk filled up/);
  const summary = await report('summary', capture);
  assert.doesNotMatch(summary.out, /(?<!not )killed|no trailer/);
});
