import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Collector, Digest, StreamDigests, type Item } from '../../test/support/collect.js';
import { memoryIo } from '../../test/support/memory-io.js';
import { groupColumnCounts } from '../../test/support/group-columns.js';
import { everyRecordItems, TEST_HEADER, writeInFileOrder, writeRealistic } from '../../test/support/synthetic.js';
import { decodeCapture } from '../capture/decoder.js';
import { concat } from '../capture/encoder.js';
import {
  appendToCaptureFile,
  cleanEnd,
  finishCaptureFile,
  FOLLOW_BUSY_BYTES,
  FOLLOW_POLL_MS,
  FOLLOW_QUIET_POLL_MS,
  followPauseMs,
  FollowingCompressor,
  READ_CHUNK,
  readCaptureFile,
  recompressCaptureFile,
} from './capture-file.js';
import { FOLLOW_FAST_LAG, FOLLOW_FASTEST_LEVEL, FOLLOW_FAST_LEVEL_SYSTEM, recompressCapture } from '../capture/compress.js';
import { decodeHeader, encodeHeader } from '../capture/header.js';
import { BLOCK_KIND_GROUP, MARKER_KINDS, OPTION_PYTHON_ALLOCATORS, STREAM_MEMLENS, TRAILER_REASONS } from '../capture/format.js';
import { BlockFramer } from '../capture/framing.js';
import { byteProgress, NO_PROGRESS, PROGRESS_MIN_BYTES } from './progress.js';
import { terminalSafe } from '../util/terminal-text.js';

/** The kinds of a capture's blocks, in file order. */
function blockKinds(bytes: Uint8Array): number[] {
  const kinds: number[] = [];
  const f = new BlockFramer({ header: () => undefined, block: (info) => kinds.push(info.kind), damaged: () => undefined, truncated: () => undefined });
  f.feed(bytes);
  f.end();
  return kinds;
}

const dir = mkdtempSync(join(tmpdir(), 'memlens-capfile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('readCaptureFile streams in chunks of any size and reports progress up to the file size', async () => {
  const bytes = writeInFileOrder(everyRecordItems(), TEST_HEADER, { blockSize: 300 });
  const path = join(dir, 'a.mlens');
  writeFileSync(path, bytes);
  const whole = new Collector();
  decodeCapture(bytes, whole);
  for (const chunkSize of [1, 7, 64, 1000, 1 << 20]) {
    const c = new Collector();
    const seen: number[] = [];
    const r = await readCaptureFile(path, c, { chunkSize, progress: { update: (n) => void seen.push(n), finish: () => undefined } });
    assert.deepEqual(c.c, whole.c);
    assert.equal(r.bytes, bytes.length);
    assert.equal(seen.at(-1), bytes.length);
  }
});

test('recompressCaptureFile replaces the file with a compressed one holding the same records', async () => {
  const parts: Uint8Array[] = [];
  writeRealistic({ events: 20000, sink: (b) => parts.push(b) });
  const bytes = concat(parts);
  const path = join(dir, 'z.mlens');
  writeFileSync(path, bytes);
  const r = await recompressCaptureFile(path);
  const after = readFileSync(path);
  assert.equal(r.bytesIn, bytes.length);
  assert.equal(r.bytesOut, after.length);
  assert.ok(after.length < bytes.length * 0.8);
  const a = new Collector();
  decodeCapture(bytes, a);
  const b = new Collector();
  decodeCapture(after, b);
  assert.deepEqual(b.c.items, a.c.items);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('.tmp')),
    [],
  );
});

test('recompressCaptureFile leaves a file that is not a capture alone', async () => {
  const path = join(dir, 'text.mlens');
  writeFileSync(path, 'not a capture at all');
  await assert.rejects(recompressCaptureFile(path), /is not a memlens capture/);
  assert.equal(readFileSync(path, 'utf8'), 'not a capture at all');
  assert.ok(!existsSync(`${path}.${process.pid}.tmp`));
});

test('progress: drawn on a terminal for big inputs, throttled, erased at the end; silent otherwise', () => {
  const raw = memoryIo({ cwd: dir, stderrTTY: true });
  // main() makes stderr terminal-safe (its markers become the real sequences there); here by hand.
  const io = { ...raw, stderr: terminalSafe(raw.stderr) };
  const p = byteProgress(io, 'reading x', PROGRESS_MIN_BYTES * 2);
  p.update(0);
  p.update(PROGRESS_MIN_BYTES); // the fake clock moves 50 ms per call: throttled away
  p.update(PROGRESS_MIN_BYTES * 2);
  p.finish();
  const err = raw.err();
  assert.match(err, /^\rreading x \[\.+\] {3}0% 0 B \/ 128 MiB/);
  const ESC = String.fromCharCode(27);
  assert.ok(err.endsWith(`${ESC}[K\r${ESC}[K`), 'the bar is erased');
  assert.match(err, /\rreading x \[#+\] 100% 128 MiB \/ 128 MiB [\d.]+ [KMG]iB\/s/);
  assert.equal(err.split('\r').length - 1, 3);
  assert.equal(byteProgress(memoryIo({ cwd: dir, stderrTTY: false }), 'x', PROGRESS_MIN_BYTES * 2), NO_PROGRESS);
  assert.equal(byteProgress(memoryIo({ cwd: dir, stderrTTY: true }), 'x', 1000), NO_PROGRESS);
});

test("appendToCaptureFile adds an EXIT record that a reader finds after the agent's blocks", async () => {
  const bytes = writeInFileOrder(everyRecordItems(), TEST_HEADER, { blockSize: 300 });
  const path = join(dir, 'exit.mlens');
  writeFileSync(path, bytes);
  const exit = { type: 'exit', stream: STREAM_MEMLENS, timeNs: 123, exitCode: 0, signal: 9, oomKill: 1, detail: 'Out of memory: Killed process 42' } as const;
  appendToCaptureFile(path, [exit]);
  const c = new Collector();
  await readCaptureFile(path, c);
  assert.deepEqual(c.c.warnings, []);
  assert.deepEqual(c.c.items.at(-1), exit);
  assert.throws(() => appendToCaptureFile(join(dir, 'missing-dir', 'x.mlens'), [exit]), /missing-dir\/x\.mlens: no such file/);
});

test('sealCaptureFile keeps every whole record of a block cut anywhere, so an appended EXIT reads cleanly', async () => {
  const { sealCaptureFile } = await import('./capture-file.js');
  const bytes = writeInFileOrder(everyRecordItems(false), TEST_HEADER, { blockSize: 400 });
  const full = new Collector();
  decodeCapture(bytes, full);
  const last = full.c.blocks[full.c.blocks.length - 1];
  assert.ok(last !== undefined);
  const exit = { type: 'exit', stream: STREAM_MEMLENS, timeNs: 5, exitCode: 0, signal: 9, oomKill: 1, detail: 'killed' } as const;
  for (let cut = last.offset + 1; cut < bytes.length; cut++) {
    const path = join(dir, 'cut.mlens');
    writeFileSync(path, bytes.subarray(0, cut));
    // What a reader gets from the cut file: every whole record before the cut.
    const before = new Collector();
    decodeCapture(bytes.subarray(0, cut), before);
    await sealCaptureFile(path);
    appendToCaptureFile(path, [exit]);
    const after = new Collector();
    await readCaptureFile(path, after);
    assert.deepEqual(after.c.warnings, [], `cut at ${cut}: no warning after sealing`);
    assert.deepEqual(after.c.items, [...before.c.items, exit], `cut at ${cut}: the whole records, then EXIT`);
  }
});

test("cleanEnd: a capture that ends whole on its agent's TRAILER is found finished from its last blocks alone; any other end takes the full read", async () => {
  const trailer = (reason: string) =>
    ({ type: 'trailer', stream: 0, seq: 200, timeNs: 300, reason: TRAILER_REASONS.indexOf(reason as never), allocations: 1, frees: 1, bytesAllocated: 1, droppedEvents: 0, agentMemoryBytes: 1 }) as const;
  // The records of every kind but the ones that end a capture, in many small blocks, then the end under test.
  const body = everyRecordItems(false).filter((it) => it.type !== 'trailer' && it.type !== 'exit' && !(it.type === 'marker' && MARKER_KINDS[it.kind] === 'capture-stopped'));
  const stoppedMarker = { type: 'marker', stream: 0, seq: 199, timeNs: 299, kind: MARKER_KINDS.indexOf('capture-stopped'), label: 'ENOSPC: no space left on the device' } as const;
  const thread = body.find((it) => it.type === 'thread');
  assert.ok(thread !== undefined);
  const cases: [string, Parameters<typeof writeInFileOrder>[0], boolean][] = [
    ['trailer (exit) last', [...body, trailer('exit')], true],
    ['trailer (program) last', [...body, trailer('program')], true],
    ['trailer of an old agent (stopped: may hide a failed write)', [...body, trailer('stopped')], false],
    ['trailer saying the capture stopped', [...body, stoppedMarker, trailer('capture-stopped')], false],
    ['a capture-stopped marker before a finishing trailer', [...body, stoppedMarker, trailer('exit')], false],
    ["a thread's block after the trailer", [...body, trailer('exit'), { ...thread, stream: 7 }], false],
    ['no trailer (a killed writer)', body, false],
  ];
  const exit = { type: 'exit', stream: STREAM_MEMLENS, timeNs: 5, exitCode: 0, signal: 0, oomKill: 0, detail: '' } as const;
  for (const [name, items, finished] of cases) {
    const bytes = writeInFileOrder(items, TEST_HEADER, { blockSize: 200 });
    const path = join(dir, 'end.mlens');
    writeFileSync(path, bytes);
    assert.equal(cleanEnd(path) !== undefined, finished, name);
    // Either way finishCaptureFile leaves every record and the EXIT after them, with what stopped the capture.
    const end = await finishCaptureFile(path, exit);
    const c = new Collector();
    await readCaptureFile(path, c);
    assert.deepEqual(c.c.warnings, [], name);
    assert.deepEqual(c.c.items, [...items, exit], name);
    assert.equal(end.stopped?.why, items.includes(stoppedMarker) ? stoppedMarker.label : undefined, name);
    if (finished) {
      // Cut anywhere in its last block, the same capture is not finished any more.
      const last = bytes.length - 10;
      writeFileSync(path, bytes.subarray(0, last));
      assert.equal(cleanEnd(path), undefined, `${name}, cut`);
    }
  }
  // Recompressed with group blocks (as `memlens run`'s follower writes them): the service stream's last
  // records go in a group of their own at the end, which cleanEnd decodes, and the groups of threads' events
  // before it are not read. (A thread's block after the trailer is moved before it by merging: left out.)
  for (const [name, items, finished] of cases.filter(([name]) => !name.startsWith("a thread's block"))) {
    const grouped = recompressCapture(writeInFileOrder(items, TEST_HEADER, { blockSize: 200 }));
    const blocks = blockKinds(grouped);
    assert.ok(blocks.filter((k) => k === BLOCK_KIND_GROUP).length >= 2 && blocks.at(-1) === BLOCK_KIND_GROUP, `${name}: ${blocks.join(' ')}`);
    const path = join(dir, 'end-grouped.mlens');
    writeFileSync(path, grouped);
    assert.equal(cleanEnd(path) !== undefined, finished, `${name}, grouped`);
    await finishCaptureFile(path, exit);
    const c = new Collector();
    await readCaptureFile(path, c);
    assert.deepEqual(c.c.warnings, [], name);
    assert.equal(c.c.items.length, items.length + 1, name);
  }
  writeFileSync(join(dir, 'not-a-capture.mlens'), 'hello');
  assert.equal(cleanEnd(join(dir, 'not-a-capture.mlens')), undefined);
  assert.equal(cleanEnd(join(dir, 'missing.mlens')), undefined);
});

test('FollowingCompressor: far behind the writer it compresses faster; either way every record is kept', async () => {
  const parts: Uint8Array[] = [];
  writeRealistic({ events: 4_000_000, sink: (b) => parts.push(b) }); // about 19 MB: more than FOLLOW_FAST_LAG behind
  const bytes = concat(parts);
  assert.ok(bytes.length > FOLLOW_FAST_LAG + READ_CHUNK, `${bytes.length} bytes`);
  const whole = new Digest();
  decodeCapture(bytes, whole);
  assert.ok(whole.allocs + whole.frees >= 4_000_000 && whole.warnings === 0, JSON.stringify(whole.summary));
  const small = bytes.subarray(0, FOLLOW_FAST_LAG / 2);
  for (const [name, content, fast] of [
    ['big', bytes, true],
    ['small', small, false],
  ] as const) {
    const path = join(dir, `follow-${name}.mlens`);
    writeFileSync(path, content);
    const follower = new FollowingCompressor(path);
    const copy = await follower.finish();
    assert.ok(copy !== undefined);
    assert.equal(follower.fastChunks > 0, fast, `${name}: ${follower.fastChunks} fast chunks`);
    const compressed = readFileSync(copy);
    // At most 60 %: format 3's addresses (against slots) left the compressor less to find than version 1's half.
    assert.ok(compressed.length < content.length * 0.6, `${name}: ${compressed.length} of ${content.length} bytes`);
    const c = new StreamDigests();
    decodeCapture(compressed, c);
    if (name === 'big') {
      // Every stream's records, in their order (grouping may move one stream's records before another's).
      const original = new StreamDigests();
      decodeCapture(bytes, original);
      assert.deepEqual(c.summary, original.summary);
    }
    rmSync(copy);
  }
});

test("FollowingCompressor's pause: doubled while the capture grows little (a quiet program), back to the shortest once it grows fast", () => {
  // A quiet program: the agent's flush rounds add a few hundred bytes to every pause.
  const pauses: number[] = [];
  let pause = FOLLOW_POLL_MS;
  for (let k = 0; k < 6; k++) pauses.push((pause = followPauseMs(pause, 300)));
  assert.deepEqual(pauses, [50, 100, 200, 200, 200, 200]);
  assert.equal(FOLLOW_QUIET_POLL_MS, 200);
  // Nothing at all grows it the same way; a writer of FOLLOW_BUSY_BYTES in a pause is polled at once again.
  assert.equal(followPauseMs(FOLLOW_POLL_MS, 0), 2 * FOLLOW_POLL_MS);
  assert.equal(followPauseMs(FOLLOW_QUIET_POLL_MS, FOLLOW_BUSY_BYTES - 1), FOLLOW_QUIET_POLL_MS);
  assert.equal(followPauseMs(FOLLOW_QUIET_POLL_MS, FOLLOW_BUSY_BYTES), FOLLOW_POLL_MS);
  assert.equal(followPauseMs(2 * FOLLOW_POLL_MS, 10 * FOLLOW_BUSY_BYTES), FOLLOW_POLL_MS);
});

/** `bytes` (a capture) with its header's options replaced (its blocks follow as they were). */
function withOptions(bytes: Uint8Array, options: number): Uint8Array {
  const h = decodeHeader(bytes);
  const old = encodeHeader(h);
  assert.deepEqual(bytes.subarray(0, old.length), old);
  return concat([encodeHeader({ ...h, options }), bytes.subarray(old.length)]);
}

test("FollowingCompressor: behind a fast writer, quality 2 where Python's allocators are not traced, quality 0 where they are", async () => {
  const parts: Uint8Array[] = [];
  writeRealistic({ events: 3_000_000, sink: (b) => parts.push(b) }); // about 14 MB: more than FOLLOW_FAST_LAG behind
  const system = concat(parts);
  const pyalloc = withOptions(system, OPTION_PYTHON_ALLOCATORS);
  const original = new StreamDigests();
  decodeCapture(system, original);
  const sizes = new Map<string, number>();
  for (const [name, content, level] of [
    ['system', system, FOLLOW_FAST_LEVEL_SYSTEM],
    ['pyalloc', pyalloc, FOLLOW_FASTEST_LEVEL],
  ] as const) {
    const path = join(dir, `follow-level-${name}.mlens`);
    writeFileSync(path, content);
    const follower = new FollowingCompressor(path);
    const copy = await follower.finish();
    assert.ok(copy !== undefined);
    assert.equal(follower.fastLevel, level, name);
    assert.ok(follower.fastChunks > 0, `${name}: ${follower.fastChunks} fast chunks`);
    const compressed = readFileSync(copy);
    sizes.set(name, compressed.length);
    const c = new StreamDigests();
    decodeCapture(compressed, c);
    assert.deepEqual(c.summary, original.summary, name);
    assert.equal(decodeHeader(compressed).options, decodeHeader(content).options, name);
    rmSync(copy);
  }
  // The same blocks at the same points of the same flow, only the fast level differs: quality 2 on packs
  // writes less than quality 0 even on this synthetic stream (random values, where an agent's repeat).
  assert.ok(sizes.get('system')! < sizes.get('pyalloc')! * 0.95, JSON.stringify([...sizes]));
});

test("FollowingCompressor: with Python's allocators traced, a quiet program's small blocks go into packs, not groups coded by column", async () => {
  for (const [name, options, packsOnly] of [
    ['pyalloc', (TEST_HEADER.options ?? 0) | OPTION_PYTHON_ALLOCATORS, true],
    ['system', (TEST_HEADER.options ?? 0) & ~OPTION_PYTHON_ALLOCATORS, false],
  ] as const) {
    const content = writeInFileOrder(everyRecordItems(), { ...TEST_HEADER, options }, { blockSize: 300 });
    const path = join(dir, `follow-packs-${name}.mlens`);
    writeFileSync(path, content);
    const copy = await new FollowingCompressor(path).finish();
    assert.ok(copy !== undefined);
    const compressed = readFileSync(copy);
    const cols = groupColumnCounts(compressed);
    assert.ok(cols.length > 0 && cols.every((n) => (n === 0) === packsOnly), `${name}: ${cols.join(' ')}`);
    const original = new StreamDigests();
    decodeCapture(content, original);
    const c = new StreamDigests();
    decodeCapture(compressed, c);
    assert.deepEqual(c.summary, original.summary, name);
    rmSync(copy);
  }
});

test('FollowingCompressor: a block cut off after its writer failed half way (a full disk) leaves the capture uncompressed, quietly', async () => {
  const parts: Uint8Array[] = [];
  writeRealistic({ events: 20000, sink: (b) => parts.push(b) });
  const bytes = concat(parts);
  const path = join(dir, 'cut-block.mlens');
  // The capture and the start of a block more (the first 1,000 bytes of its first block, sync mark and
  // all), as a write that the disk stopped half way leaves it.
  const firstBlock = Buffer.from(bytes).indexOf(Buffer.from([0xeb, 0x4d, 0x4c, 0x42]));
  writeFileSync(path, concat([bytes, bytes.subarray(firstBlock, firstBlock + 1000)]));
  const follower = new FollowingCompressor(path);
  follower.start();
  let last = -1;
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const tmp = readdirSync(dir).find((f) => f.startsWith('cut-block.mlens.') && f.endsWith('.tmp'));
    const size = tmp === undefined ? -1 : readFileSync(join(dir, tmp)).length;
    if (size > 0 && size === last) break;
    last = size;
  }
  // What the agent does then (agent/src/sink.c): the part of the block that got in is cut off again.
  writeFileSync(path, bytes);
  assert.equal(await follower.finish(), undefined);
  assert.equal(follower.gaveUp, 'shrunk');
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.startsWith('cut-block.mlens.')),
    [],
  );
});

test('FollowingCompressor: a capture cut shorter under it (another writer started over) is an error, not a mixed copy', async () => {
  const parts: Uint8Array[] = [];
  writeRealistic({ events: 20000, sink: (b) => parts.push(b) });
  const bytes = concat(parts);
  const path = join(dir, 'truncated.mlens');
  writeFileSync(path, bytes);
  const follower = new FollowingCompressor(path);
  follower.start();
  // Until it has read the whole file: the compressed copy grows no more.
  let last = -1;
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const tmp = readdirSync(dir).find((f) => f.startsWith('truncated.mlens.') && f.endsWith('.tmp'));
    const size = tmp === undefined ? -1 : readFileSync(join(dir, tmp)).length;
    if (size > 0 && size === last) break;
    last = size;
  }
  writeFileSync(path, bytes.subarray(0, 1000));
  await assert.rejects(follower.finish(), /truncated\.mlens was truncated while memlens compressed it/);
  follower.abandon();
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.startsWith('truncated.mlens.')),
    [],
  );
});

test('inferredStop: a capture that stopped early says so when its agent could not: a capture-stopped TRAILER, or none after a plain exit, on a full disk', async () => {
  const { inferredStop, NO_SPACE_FOUND_BY_MEMLENS } = await import('./capture-file.js');
  const exited = { type: 'exit', stream: STREAM_MEMLENS, timeNs: 1, exitCode: 3, signal: 0, oomKill: 0, detail: '' } as const;
  const killed = { ...exited, exitCode: 0, signal: 9, oomKill: 1 };
  // No TRAILER after the program exited by itself: the agent's writes failed, and the full disk says why.
  assert.equal(inferredStop(undefined, exited, true), NO_SPACE_FOUND_BY_MEMLENS);
  // The agent says a write failed: with a full disk, ENOSPC; without, the reason is unknown but the stop is not.
  assert.equal(inferredStop('capture-stopped', exited, true), NO_SPACE_FOUND_BY_MEMLENS);
  assert.equal(inferredStop('capture-stopped', killed, true), NO_SPACE_FOUND_BY_MEMLENS);
  assert.match(inferredStop('capture-stopped', exited, false) ?? '', /^unknown: /);
  // A killed writer leaves no TRAILER whatever the disk: that is not a failed write.
  assert.equal(inferredStop(undefined, killed, true), undefined);
  // No TRAILER, a plain exit, a disk with room: nothing says a write failed.
  assert.equal(inferredStop(undefined, exited, false), undefined);
  // A capture its agent finished.
  for (const r of ['exit', 'program', '_exit', 'detach'] as const) assert.equal(inferredStop(r, exited, true), undefined);
});

test("finishCaptureFile: the agent's marker lost, no TRAILER, the program exited by itself, memlens saw the disk full: memlens's own marker says the disk filled up", async () => {
  const body = everyRecordItems(false).filter((it) => it.type !== 'trailer' && it.type !== 'exit' && !(it.type === 'marker' && MARKER_KINDS[it.kind] === 'capture-stopped'));
  const bytes = writeInFileOrder(body, TEST_HEADER, { blockSize: 300 });
  const exit = { type: 'exit', stream: STREAM_MEMLENS, timeNs: 10_000, exitCode: 3, signal: 0, oomKill: 0, detail: '' } as const;
  const path = join(dir, 'lost-marker.mlens');
  for (const diskFullSeen of [true, false]) {
    writeFileSync(path, bytes);
    const end = await finishCaptureFile(path, exit, { diskFullSeen });
    assert.equal(end.exitWritten, true);
    const c = new Collector();
    await readCaptureFile(path, c);
    assert.deepEqual(c.c.warnings, []);
    const markers = c.c.items.filter((it) => it.type === 'marker' && MARKER_KINDS[it.kind] === 'capture-stopped');
    if (diskFullSeen) {
      assert.match(end.stopped?.why ?? '', /^ENOSPC: no space left on the device \(found by memlens/);
      assert.equal(markers.length, 1);
      assert.deepEqual(
        c.c.items.slice(-2).map((it) => it.type),
        ['marker', 'exit'],
      );
    } else {
      // This directory's disk has room: a missing TRAILER alone is not taken for a failed write.
      assert.equal(end.stopped, undefined);
      assert.equal(markers.length, 0);
    }
  }
});

test("cleanEnd: with whole parts (the follower's packs at quality 5) the service stream's last records still end the capture in a group of one part", async () => {
  // A thread's full blocks (about 14 KB each, past WHOLE_PART) between the service stream's small ones: the
  // groups become packs, the service stream's blocks then go in whole too, several parts of it pending at
  // the end.
  const items: Item[] = [];
  let seq = 0;
  for (let r = 0; r < 8; r++) {
    for (let k = 0; k < 2000; k++) {
      items.push({ type: 'alloc', stream: 1, seq: ++seq, address: 0x7f0000000000 + 64 * ((k * 7) % 500), size: 32 + (k % 5) * 16, allocator: 1, stack: 1 + (k % 9), nativeStack: 0 });
    }
    for (let k = 0; k < 3; k++) {
      items.push({
        type: 'snapshot',
        stream: 0,
        seq,
        timeNs: 1000 * (r * 3 + k),
        rss: 50 << 20,
        rssAnon: 1,
        rssFile: 2,
        rssShmem: 3,
        swap: 0,
        heap: 4096 * r,
        cgroupUsage: undefined,
        cgroupLimit: undefined,
      });
    }
  }
  const trailer = {
    type: 'trailer',
    stream: 0,
    seq: seq + 1,
    timeNs: 1e6,
    reason: TRAILER_REASONS.indexOf('exit'),
    allocations: seq,
    frees: 0,
    bytesAllocated: 1,
    droppedEvents: 0,
    agentMemoryBytes: 1,
  } as const;
  items.push(trailer);
  const raw = writeInFileOrder(items, TEST_HEADER, { blockSize: 64 << 10 });
  const packed = recompressCapture(raw, { packs: true, wholeParts: true });
  // Packs were written (a group of 0 columns), and the capture ends on a group block.
  assert.ok(blockKinds(packed).at(-1) === BLOCK_KIND_GROUP);
  const path = join(dir, 'end-packed.mlens');
  writeFileSync(path, packed);
  assert.ok(cleanEnd(path) !== undefined, 'found finished from its last block');
  const exit = { type: 'exit', stream: STREAM_MEMLENS, timeNs: 5, exitCode: 0, signal: 0, oomKill: 0, detail: '' } as const;
  await finishCaptureFile(path, exit);
  const c = new Collector();
  await readCaptureFile(path, c);
  assert.deepEqual(c.c.warnings, []);
  assert.equal(c.c.items.length, items.length + 1);
});
