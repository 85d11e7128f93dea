// `memlens export` when the export cannot be finished: a write that fails part of the way through, and a
// text export that still meets V8's longest string (text-exports.ts makes them in chunks of 2^20 code
// units, but one stack's line is one string). Either way: one line naming the capture and the format on
// stderr (and, for the string limit, its hint line), exit status 1, the half-written file removed (and an
// existing file given with --force gone, as the export had replaced it), nothing else in the directory
// touched.
//
// The failed write is real, through the CLI: memlens runs under a file size limit (RLIMIT_FSIZE, `ulimit -f`,
// which binds root too and needs no mount), so the kernel cuts a write short at the limit and fails the next
// one with EFBIG (node ignores SIGXFSZ), after whole chunks were written; and with its standard output on
// /dev/full (ENOSPC). What was considered and not used: /dev/full or a FIFO as the -o file (memlens
// refuses to write to anything but a new or a regular file: output-file.ts; -o - to a pipe whose reader
// closed is EPIPE, which ends memlens quietly by design, as `| head` does), a directory made read-only
// after the file was created (a descriptor already open writes on, and root passes permission checks
// anyway), a small tmpfs (needs mount, root and a system that allows it; full-disk.test.ts does that for
// `memlens run`).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CaptureWriter } from '../src/capture/encoder.js';
import type { MetaRecord } from '../src/capture/records.js';
import { main } from '../src/cli/main.js';
import { EXPORT_CHUNK } from '../src/report/export/text-exports.js';
import { NODE_FLAGS } from '../src/util/node-flags.js';
import { KNOWN_HEADER } from './support/known-capture.js';
import { MEMLENS_BIN, tempDir } from './support/memlens-run.js';
import { memoryIo } from './support/memory-io.js';
import './support/pythons.js';

const tmp = tempDir('memlens-export-errors-');
const capture = join(tmp.dir, 'wide.mlens');
/** The function of the smallest stack: written last by every text format (largest first). */
const MARKER = 'last_of_all';
const STACKS = 4000;
const FORMATS = ['folded', 'csv', 'speedscope', 'gprof2dot'] as const;
/** What a capture and an export of it contain, to check that nothing else in the directory changed. */
let captureBytes: Buffer;

/**
 * 4,000 stacks `<module> → fNNNN_xxx…` (1,000-character names), one allocation each, of decreasing sizes: every
 * text export is about 4 MB, four chunks and more, and the stack of MARKER, the smallest, comes last.
 */
function wideCapture(): Uint8Array {
  const w = new CaptureWriter({ header: KNOWN_HEADER });
  w.meta({ type: 'thread', stream: 1, osTid: 100, pythonIdent: 1, name: 'MainThread', timeNs: 0 });
  const code = (codeId: number, name: string, firstLineNo: number): MetaRecord => ({
    type: 'code',
    stream: 1,
    codeId,
    name,
    qualname: name,
    filename: '/srv/app/app.py',
    firstLineNo,
    linetableKind: 3,
    linetable: new Uint8Array(0),
  });
  w.meta(code(1, '<module>', 1));
  const mod = w.frame(1, 0, 1, 0);
  for (let i = 0; i < STACKS; i++) {
    const name = i === STACKS - 1 ? MARKER : `f${String(i).padStart(4, '0')}_${'x'.repeat(1000)}`;
    w.meta(code(2 + i, name, 10 + i));
    const f = w.frame(1, mod, 2 + i, 0);
    w.alloc(1, 1 + i, 0x100000 + i * 0x10000, 100_000 - i, 0, f, 0);
  }
  w.flush(1);
  w.meta({ type: 'trailer', stream: 0, seq: STACKS, timeNs: 45_000_000, reason: 1, allocations: STACKS, frees: 0, bytesAllocated: 0, droppedEvents: 0, agentMemoryBytes: 0 });
  return w.finish();
}

before(() => {
  writeFileSync(capture, wideCapture());
  captureBytes = readFileSync(capture);
});
after(() => tmp.remove());

/** The directory's names and sizes, and the capture unchanged. */
function listing(): string[] {
  assert.ok(readFileSync(capture).equals(captureBytes), 'the capture is unchanged');
  return readdirSync(tmp.dir)
    .sort()
    .map((n) => `${n} ${statSync(join(tmp.dir, n)).size}`);
}

/** bin/memlens.js as a user runs it, under `sh -c 'ulimit -f BLOCKS'` when given, stdout to `stdout` (a path) or a pipe. */
function cli(args: readonly string[], o: { blocks?: number; stdout?: string } = {}): Promise<{ code: number | null; out: string; err: string }> {
  const node = [process.execPath, ...NODE_FLAGS, MEMLENS_BIN, ...args];
  const argv = o.blocks === undefined ? node : ['sh', '-c', `ulimit -f ${o.blocks} && exec "$@"`, 'sh', ...node];
  const fd = o.stdout === undefined ? undefined : openSync(o.stdout, 'w');
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: tmp.dir, stdio: ['ignore', fd ?? 'pipe', 'pipe'] });
    if (fd !== undefined) closeSync(fd);
    let out = '';
    let err = '';
    child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

test('the capture of these tests makes text exports of several chunks, written in full without a limit', async () => {
  for (const format of FORMATS) {
    const out = join(tmp.dir, `whole.${format}`);
    const io = memoryIo({ cwd: tmp.dir });
    assert.equal(await main(['export', capture, '-f', format, '-o', out], io), 0, io.err());
    const text = readFileSync(out, 'utf8');
    // More than three chunks: the limit below (1.2 or 2.4 MB) falls after the first.
    assert.ok(text.length > 3.5 * EXPORT_CHUNK, `${format}: ${text.length} characters`);
    assert.ok(text.includes(MARKER));
  }
});

// 2,400 blocks: 1.2 MB where sh's ulimit counts 512-byte blocks (dash, POSIX), 2.4 MB where it counts KiB
// (bash): either way past the first chunk (at most 1 MiB of ASCII) and before the end (4 MB).
const BLOCKS = 2400;

for (const format of [...FORMATS, 'pprof'] as const) {
  test(`export ${format}: a write that fails part of the way (the file size limit) is one line, exit 1, the file removed`, async () => {
    const out = join(tmp.dir, `out.${format}`);
    const beforeRun = listing();
    const r = await cli(['export', capture, '-f', format, '-o', out], { blocks: format === 'pprof' ? 1 : BLOCKS });
    assert.equal(r.err, `memlens: error: ${capture}: cannot write the ${format} export to ${out}: the file size limit (ulimit -f) was reached (EFBIG)\n`);
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.ok(!existsSync(out), 'the half-written export is removed');
    assert.deepEqual(listing(), beforeRun, 'nothing else in the directory changed');
  });
}

test('export csv --force over an existing file: the write fails, the old file is gone too (the export had replaced it), others untouched', async () => {
  const out = join(tmp.dir, 'old.csv');
  const other = join(tmp.dir, 'other.txt');
  writeFileSync(out, 'the previous export\n');
  writeFileSync(other, 'someone else\n');
  const beforeRun = listing();
  const r = await cli(['export', capture, '-f', 'csv', '--force', '-o', out], { blocks: BLOCKS });
  assert.equal(r.err, `memlens: error: ${capture}: cannot write the csv export to ${out}: the file size limit (ulimit -f) was reached (EFBIG)\n`);
  assert.equal(r.code, 1);
  assert.ok(!existsSync(out), 'the file given with --force is gone');
  assert.deepEqual(
    listing(),
    beforeRun.filter((l) => !l.startsWith('old.csv ')),
  );
  assert.equal(readFileSync(other, 'utf8'), 'someone else\n');
});

for (const format of FORMATS) {
  test(`export ${format} -o - to /dev/full: one line naming the capture and the format, exit 1`, async () => {
    const beforeRun = listing();
    const r = await cli(['export', capture, '-f', format, '-o', '-'], { stdout: '/dev/full' });
    assert.equal(r.err, `memlens: error: ${capture}: cannot write the ${format} export to standard output: no space left on the device (ENOSPC)\n`);
    assert.equal(r.code, 1);
    assert.deepEqual(listing(), beforeRun);
  });
}

test('a report to /dev/full: one line, exit 1 (not a stack trace: processIo ends memlens on the stream error)', async () => {
  const r = await cli(['summary', capture], { stdout: '/dev/full' });
  assert.equal(r.err, 'memlens: error: cannot write to standard output: ENOSPC\n');
  assert.equal(r.code, 1);
});

/**
 * The string limit. Met for real, it takes a line (one stack) longer than 2^29 - 24 code units: a GB of
 * memory and minutes, too much for a test. So the seam: the builtins that make each piece of an export
 * (Array.prototype.join for a line of frames, JSON.stringify for a JSON object) throw the RangeError V8
 * throws past that length ("Invalid string length") when the piece holds MARKER, which is in the last stack
 * only, so the file holds chunks already when it comes.
 */
async function withStringLimit<T>(out: string | undefined, body: () => Promise<T>): Promise<{ result: T; sizeAtThrow: number }> {
  let sizeAtThrow = -1;
  const check = (s: string): string => {
    if (s.includes(MARKER)) {
      sizeAtThrow = out === undefined ? 0 : statSync(out).size;
      throw new RangeError('Invalid string length');
    }
    return s;
  };
  const arrays = Array.prototype as { join: (this: unknown[], sep?: string) => string };
  const join0 = arrays.join;
  const stringify0 = JSON.stringify;
  arrays.join = function (this: unknown[], sep?: string): string {
    return check(join0.call(this, sep));
  };
  JSON.stringify = ((...a: Parameters<typeof JSON.stringify>): string => {
    const s = stringify0(...a) as string | undefined;
    return s === undefined ? (s as unknown as string) : check(s);
  }) as typeof JSON.stringify;
  try {
    return { result: await body(), sizeAtThrow };
  } finally {
    arrays.join = join0;
    JSON.stringify = stringify0;
  }
}

const HINT = '  hint: Export a smaller set (--leaks, --temporary-allocations, --from/--to), or use --format pprof (one entry per distinct frame and stack, gzipped).\n';

for (const format of FORMATS) {
  test(`export ${format}: a line past V8's longest string is one line (and its hint), exit 1, the half-written file removed`, async () => {
    const out = join(tmp.dir, `long.${format}`);
    const beforeRun = listing();
    const io = memoryIo({ cwd: tmp.dir });
    const { result: code, sizeAtThrow } = await withStringLimit(out, () => main(['export', capture, '-f', format, '-o', out], io));
    assert.equal(io.err(), `memlens: error: ${capture}: the ${format} export is too large for memlens to make (Invalid string length)\n${HINT}`);
    assert.equal(code, 1);
    assert.ok(sizeAtThrow >= EXPORT_CHUNK, `the limit met after a chunk was written (${sizeAtThrow} bytes)`);
    assert.ok(!existsSync(out), 'the half-written export is removed');
    assert.deepEqual(listing(), beforeRun);
  });

  test(`export ${format} -o -: a line past V8's longest string is one line (and its hint), exit 1`, async () => {
    const io = memoryIo({ cwd: tmp.dir });
    const beforeRun = listing();
    const { result: code } = await withStringLimit(undefined, () => main(['export', capture, '-f', format, '-o', '-'], io));
    assert.equal(io.err(), `memlens: error: ${capture}: the ${format} export is too large for memlens to make (Invalid string length)\n${HINT}`);
    assert.equal(code, 1);
    assert.ok(io.outBytes().length >= EXPORT_CHUNK, 'the chunks before it were written');
    assert.deepEqual(listing(), beforeRun);
  });
}

test('export --force over an existing file, the string limit met: the old file is gone too', async () => {
  const out = join(tmp.dir, 'old.folded');
  writeFileSync(out, 'the previous export\n');
  const beforeRun = listing();
  const io = memoryIo({ cwd: tmp.dir });
  const { result: code } = await withStringLimit(out, () => main(['export', capture, '-f', 'folded', '--force', '-o', out], io));
  assert.equal(code, 1);
  assert.equal(io.err().split('\n')[0], `memlens: error: ${capture}: the folded export is too large for memlens to make (Invalid string length)`);
  assert.ok(!existsSync(out));
  assert.deepEqual(
    listing(),
    beforeRun.filter((l) => !l.startsWith('old.folded ')),
  );
});
