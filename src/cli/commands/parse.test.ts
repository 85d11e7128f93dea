// memlens parse on bad input, through main() with a fake Io: one clear line for each case of a file that
// cannot be read, a warning (not an error) for a cut or damaged capture.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { memoryIo } from '../../../test/support/memory-io.js';
import { everyRecordItems, TEST_HEADER, writeInFileOrder } from '../../../test/support/synthetic.js';
import { READER_VERSION } from '../../capture/format.js';
import { encodeHeader } from '../../capture/header.js';
import { main } from '../main.js';

const dir = mkdtempSync(join(tmpdir(), 'memlens-parse-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const capture = writeInFileOrder(everyRecordItems(), TEST_HEADER, { blockSize: 300 });

async function parse(file: string, ...extra: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo({ cwd: dir });
  const code = await main(['parse', ...extra, file], io);
  return { code, out: io.out(), err: io.err() };
}

test('a good capture: header line first, then blocks and records; exit 0, nothing on stderr', async () => {
  writeFileSync(join(dir, 'good.mlens'), capture);
  const r = await parse('good.mlens');
  assert.equal(r.code, 0);
  assert.equal(r.err, '');
  const lines = r.out.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^header version=7 min_reader_version=7 writer_name="memlens"/);
  assert.match(lines[1] ?? '', /^block offset=\d+ stream=1 /);
  assert.ok(lines.some((l) => l.startsWith('alloc stream=1 seq=2 address=0x55555555a040 size=64 allocator=pymalloc_malloc stack=2 native_stack=2')));
  const json = await parse('good.mlens', '--json');
  const rows = json.out
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; schema?: string; min_reader_version?: number });
  assert.deepEqual(rows[0], { schema: 'memlens.parse/1', type: 'schema' });
  assert.equal(rows[1]?.type, 'header');
  assert.equal(rows[1]?.min_reader_version, 7, 'keys are snake_case, as in the text lines');
  assert.equal(rows.filter((x) => x.type !== 'block' && x.type !== 'schema').length, lines.filter((l) => !l.startsWith('block')).length);
});

test('a missing file', async () => {
  const r = await parse('nope.mlens');
  assert.equal(r.code, 1);
  assert.equal(r.out, '');
  assert.match(r.err, /^memlens: error: nope\.mlens: no such file\n/);
});

test('a directory', async () => {
  mkdirSync(join(dir, 'sub.mlens'));
  const r = await parse('sub.mlens');
  assert.equal(r.code, 1);
  assert.match(r.err, /^memlens: error: sub\.mlens is a directory, not a capture file\n/);
});

test('an empty file', async () => {
  writeFileSync(join(dir, 'empty.mlens'), '');
  const r = await parse('empty.mlens');
  assert.equal(r.code, 1);
  assert.match(r.err, /^memlens: error: empty\.mlens is empty \(0 bytes\): not a memlens capture\n/);
});

test('a file that is not a capture names the file and what it starts with', async () => {
  writeFileSync(join(dir, 'notes.txt'), 'just some text\n');
  const r = await parse('notes.txt');
  assert.equal(r.code, 1);
  assert.match(r.err, /^memlens: error: notes\.txt is not a memlens capture: it starts with 6a 75 73 74 20 73 6f 6d/);
});

test('a capture of a newer format version says both versions and to upgrade', async () => {
  // One version past what this memlens reads, whatever that is now.
  const h = encodeHeader({ version: READER_VERSION + 2, minReaderVersion: READER_VERSION + 1 });
  writeFileSync(join(dir, 'newer.mlens'), h);
  const r = await parse('newer.mlens');
  assert.equal(r.code, 1);
  assert.ok(
    r.err.startsWith(
      `memlens: error: newer.mlens was written in capture format version ${READER_VERSION + 2}, which needs a reader of version ${READER_VERSION + 1} or later; this memlens reads version ${READER_VERSION}\n  hint: upgrade memlens`,
    ),
    r.err,
  );
});

test('a truncated capture is read up to the cut, with a warning on stderr and exit 0', async () => {
  writeFileSync(join(dir, 'cut.mlens'), capture.subarray(0, capture.length - 7));
  const r = await parse('cut.mlens');
  assert.equal(r.code, 0);
  assert.match(r.out, /^header /);
  assert.match(r.err, /^memlens: warning: cut\.mlens: the capture ends at offset \d+, inside a block that starts at offset \d+ \(the writer was probably killed\): read up to offset \d+\n$/);
});

test('a capture cut inside its header is an error', async () => {
  writeFileSync(join(dir, 'cuthead.mlens'), capture.subarray(0, 100));
  const r = await parse('cuthead.mlens');
  assert.equal(r.code, 1);
  assert.match(r.err, /cuthead\.mlens is cut short: it ends at byte 100, inside the \d+-byte file header/);
});

test('a corrupt capture: the damaged block is skipped with its offset on stderr', async () => {
  const bad = capture.slice();
  bad[900] = (bad[900] as number) ^ 0x55;
  writeFileSync(join(dir, 'corrupt.mlens'), bad);
  const r = await parse('corrupt.mlens');
  assert.equal(r.code, 0);
  assert.match(r.err, /^memlens: warning: corrupt\.mlens: damaged data at offset \d+ \(CRC-32 mismatch\): skipped \d+ bytes to the next good block\n$/);
  const corruptHeader = capture.slice();
  corruptHeader[30] = (corruptHeader[30] as number) ^ 1;
  writeFileSync(join(dir, 'corrupt-header.mlens'), corruptHeader);
  const h = await parse('corrupt-header.mlens');
  assert.equal(h.code, 1);
  assert.match(h.err, /^memlens: error: corrupt-header\.mlens has a damaged header: its CRC-32 is [0-9a-f]{8}, the body's is [0-9a-f]{8}\n/);
});

test('a device rather than a file', async () => {
  const r = await parse('/dev/null');
  assert.equal(r.code, 1);
  assert.match(r.err, /^memlens: error: \/dev\/null is not a regular file\n/);
});

test('usage errors: no file, two files', async () => {
  const io = memoryIo({ cwd: dir });
  assert.equal(await main(['parse'], io), 2);
  assert.match(io.err(), /parse: missing capture FILE/);
  assert.equal(await main(['parse', 'a', 'b'], io), 2);
});
