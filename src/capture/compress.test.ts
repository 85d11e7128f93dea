import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Collector, type Collected, type Item } from '../../test/support/collect.js';
import { everyRecordItems, TEST_HEADER, writeInFileOrder, writeRealistic } from '../../test/support/synthetic.js';
import { groupColumnCounts } from '../../test/support/group-columns.js';
import {
  DEFAULT_COMPRESS_LEVEL,
  FOLLOW_FAST_LAG,
  FOLLOW_FAST_LEVEL,
  FOLLOW_FAST_LEVEL_SYSTEM,
  FOLLOW_FAST_RATE,
  FOLLOW_FASTEST_LEVEL,
  followFastLevel,
  FOLLOW_GROUP_RATE,
  followGroups,
  FOLLOW_GROUP_VOLUME,
  followLevel,
  GrowthRate,
  PACK_BYTES,
  RATE_FIRST_MS,
  RATE_WINDOW_MS,
  recompressCapture,
  Recompressor,
} from './compress.js';
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants, crc32 } from 'node:zlib';
import { declaredLgwin } from '../../test/support/brotli-window.js';
import { FAST_LGWIN } from './block-deflater.js';
import { decodeCapture } from './decoder.js';
import { packPayload } from './group.js';
import { ByteReader } from './varint.js';
import { BlockFramer } from './framing.js';
import { concat, encodeBlock } from './encoder.js';
import { GROUP_COLUMNS, GROUP_COLUMNS_1 } from './group.js';
import { END_BY_COLUMN, WHOLE_PART } from './merge.js';
import {
  BLOCK_FLAG_BROTLI,
  BLOCK_KIND_GROUP,
  BLOCK_KIND_RECORDS,
  FORMAT_VERSION,
  GROUP_LAYOUT2_VERSION,
  MIN_READER_VERSION,
  OPTION_NATIVE,
  OPTION_PYTHON_ALLOCATORS,
  PACK_FORMAT_VERSION,
  STREAM_SERVICE,
} from './format.js';

function decode(bytes: Uint8Array): Collected {
  const c = new Collector();
  decodeCapture(bytes, c);
  return c.c;
}

const parts: Uint8Array[] = [];
writeRealistic({ events: 50000, threads: 3, sink: (b) => parts.push(b) });
const realistic = concat(parts);

/** Each stream's records, in their order (merging and grouping, merge.ts, may move a stream's records earlier than another's). */
function byStream(items: Collected['items']): Map<number, Collected['items']> {
  const m = new Map<number, Collected['items']>();
  for (const it of items) m.set(it.stream, [...(m.get(it.stream) ?? []), it]);
  return m;
}

test('recompression keeps every record and compresses every block', () => {
  const out = recompressCapture(realistic);
  const a = decode(realistic);
  const b = decode(out);
  assert.deepEqual(byStream(b.items), byStream(a.items));
  // Without merging, every block stays where it was.
  assert.deepEqual(decode(recompressCapture(realistic, { merge: false })).items, a.items);
  assert.deepEqual(b.warnings, []);
  // Small blocks (a lone BARRIER, a few records) may not get smaller and stay stored.
  // Parts of a group block (header_len 0) are inside the group, which is compressed.
  assert.ok(b.blocks.every((x) => x.flags === 2 || x.rawLen < 256 || x.headerLen === 0));
  const stored = b.blocks.filter((x) => x.headerLen > 0);
  assert.ok(stored.filter((x) => x.flags === 2).length > stored.length / 2);
  assert.ok(out.length < realistic.length * 0.7, `${out.length} vs ${realistic.length}`);
});

test('recompressing a compressed capture changes nothing', () => {
  const once = recompressCapture(realistic);
  assert.deepEqual(recompressCapture(once), once);
});

test('fed in chunks, the recompressor writes the same bytes', () => {
  const whole = recompressCapture(realistic);
  const out: Uint8Array[] = [];
  const r = new Recompressor((b) => out.push(b));
  for (let at = 0; at < realistic.length; at += 7777) r.feed(realistic.subarray(at, at + 7777));
  r.end();
  assert.deepEqual(concat(out), whole);
});

test('damage and a cut tail are copied as they are: the reader sees the same records and warnings', () => {
  const every = writeInFileOrder(everyRecordItems(), TEST_HEADER, { blockSize: 300 });
  const bad = every.slice();
  bad[700] = bad[700]! ^ 0xff;
  const input = concat([bad.subarray(0, 1200), Uint8Array.of(1, 2, 3, 0xeb, 0x4d), bad.subarray(1200, bad.length - 5)]);
  const a = decode(input);
  const b = decode(recompressCapture(input));
  // Small blocks of a stream are merged (merge.ts): each stream's records keep their order.
  assert.deepEqual(byStream(b.items), byStream(a.items));
  assert.deepEqual(
    b.warnings.map((w) => w.kind),
    a.warnings.map((w) => w.kind),
  );
  assert.ok(a.warnings.length >= 2);
});

test('followLevel: the fast level far behind the writer or behind a fast writer, the default level otherwise', () => {
  assert.equal(followLevel(0), DEFAULT_COMPRESS_LEVEL);
  assert.equal(followLevel(FOLLOW_FAST_LAG - 1, FOLLOW_FAST_RATE - 1), DEFAULT_COMPRESS_LEVEL);
  assert.equal(followLevel(FOLLOW_FAST_LAG), FOLLOW_FAST_LEVEL);
  assert.equal(followLevel(0, FOLLOW_FAST_RATE), FOLLOW_FAST_LEVEL);
});

test("followFastLevel: quality 2 where Python's allocators are not traced, 0 where they are, 1 while the header is not known", () => {
  assert.equal(followFastLevel(0), FOLLOW_FAST_LEVEL_SYSTEM);
  assert.equal(followFastLevel(OPTION_NATIVE), FOLLOW_FAST_LEVEL_SYSTEM);
  assert.equal(followFastLevel(OPTION_PYTHON_ALLOCATORS), FOLLOW_FASTEST_LEVEL);
  assert.equal(followFastLevel(OPTION_PYTHON_ALLOCATORS | OPTION_NATIVE), FOLLOW_FASTEST_LEVEL);
  assert.equal(followFastLevel(undefined), FOLLOW_FAST_LEVEL);
  assert.ok(FOLLOW_FASTEST_LEVEL < FOLLOW_FAST_LEVEL && FOLLOW_FAST_LEVEL < FOLLOW_FAST_LEVEL_SYSTEM && FOLLOW_FAST_LEVEL_SYSTEM < DEFAULT_COMPRESS_LEVEL);
  // followLevel takes the capture's fast level; the default level is the same for all.
  assert.equal(followLevel(0, FOLLOW_FAST_RATE, FOLLOW_FAST_LEVEL_SYSTEM), FOLLOW_FAST_LEVEL_SYSTEM);
  assert.equal(followLevel(FOLLOW_FAST_LAG, 0, FOLLOW_FASTEST_LEVEL), FOLLOW_FASTEST_LEVEL);
  assert.equal(followLevel(0, 0, FOLLOW_FASTEST_LEVEL), DEFAULT_COMPRESS_LEVEL);
});

test('packs at the fast level of a capture without Python allocators: the same records in the same order', () => {
  const a = decode(realistic);
  const b = decode(recompressCapture(realistic, { level: FOLLOW_FAST_LEVEL_SYSTEM, packs: true, merge: false }));
  assert.deepEqual(b.warnings, []);
  assert.deepEqual(b.items, a.items);
  assert.ok(b.blocks.some((x) => x.kind === BLOCK_KIND_GROUP));
});

test('followGroups: only behind a slow writer, not far behind', () => {
  assert.equal(followGroups(0, 0), true);
  assert.equal(followGroups(FOLLOW_FAST_LAG - 1, FOLLOW_GROUP_RATE - 1), true);
  assert.equal(followGroups(0, FOLLOW_GROUP_RATE), false);
  assert.equal(followGroups(FOLLOW_FAST_LAG, 0), false);
  assert.ok(FOLLOW_GROUP_RATE < FOLLOW_FAST_RATE);
});

test('followGroups: with whole parts, at any rate up to the fast level, unless far behind', () => {
  assert.equal(followGroups(0, FOLLOW_GROUP_RATE, FOLLOW_GROUP_VOLUME + 1, true), true);
  assert.equal(followGroups(FOLLOW_FAST_LAG - 1, FOLLOW_FAST_RATE - 1, Infinity, true), true);
  assert.equal(followGroups(FOLLOW_FAST_LAG, 0, 1, true), false);
});

test("followGroups: a capture's first FOLLOW_GROUP_VOLUME bytes are grouped whatever the rate, unless far behind", () => {
  assert.equal(followGroups(0, FOLLOW_GROUP_RATE, FOLLOW_GROUP_VOLUME), true);
  assert.equal(followGroups(0, FOLLOW_FAST_RATE, 1), true);
  assert.equal(followGroups(0, FOLLOW_GROUP_RATE, FOLLOW_GROUP_VOLUME + 1), false);
  assert.equal(followGroups(FOLLOW_FAST_LAG, 0, 1), false);
});

test('setGrouping(false): full blocks are compressed one by one even at quality 5', () => {
  const out: Uint8Array[] = [];
  const r = new Recompressor((b) => out.push(b));
  r.setGrouping(false);
  r.feed(realistic);
  r.end();
  const a = decode(realistic);
  const b = decode(concat(out));
  // Blocks of records as they are in the file (not a group, nor a group's parts: merged small blocks).
  const full = (c: Collected): number => c.blocks.filter((x) => x.rawLen >= 16 * 1024 && x.kind === 1 && x.headerLen > 0).length;
  assert.ok(full(a) > 0);
  assert.equal(full(b), full(a));
  assert.ok(recompressCapture(realistic).length < concat(out).length);
});

test('GrowthRate: the growth of the latest complete window, in bytes per second', () => {
  const r = new GrowthRate();
  assert.equal(r.update(1000, 0), 0); // the first look starts a window
  assert.equal(r.update(2000, RATE_FIRST_MS - 1), 0); // too short to say
  assert.equal(r.update(5000, RATE_WINDOW_MS / 2), 32_000); // the first window, not complete yet: what it saw so far
  assert.equal(r.update(1000 + 2 * RATE_WINDOW_MS * 1000, 2 * RATE_WINDOW_MS), 1_000_000); // 1 MB/s over two windows' time
  assert.equal(r.update(1000 + 2.25 * RATE_WINDOW_MS * 1000, 2.5 * RATE_WINDOW_MS), 1_000_000); // the same pace in the window under way
  assert.equal(r.update(1000 + 2 * RATE_WINDOW_MS * 1000, 3 * RATE_WINDOW_MS), 0); // it stopped writing
  assert.equal(r.update(0, 4 * RATE_WINDOW_MS), 0); // shorter (another writer): not a negative rate
});

test('GrowthRate: a burst is seen once the window under way spans RATE_FIRST_MS, a slowdown only when a window is complete', () => {
  const r = new GrowthRate();
  r.update(0, 0);
  assert.equal(r.update(RATE_WINDOW_MS * 1000, RATE_WINDOW_MS), 1_000_000); // a complete window at 1 MB/s
  const from = RATE_WINDOW_MS * 1000;
  // 10 MB/s from then on: not yet said within RATE_FIRST_MS, said once the window under way spans it.
  assert.equal(r.update(from + (RATE_FIRST_MS - 1) * 10_000, RATE_WINDOW_MS + RATE_FIRST_MS - 1), 1_000_000);
  assert.equal(r.update(from + RATE_FIRST_MS * 10_000, RATE_WINDOW_MS + RATE_FIRST_MS), 10_000_000);
  // The window completes at that pace; the next is quiet: its partial rate is lower, the complete window's stays.
  const next = from + RATE_WINDOW_MS * 10_000;
  assert.equal(r.update(next, 2 * RATE_WINDOW_MS), 10_000_000);
  assert.equal(r.update(next + 1000, 2 * RATE_WINDOW_MS + RATE_FIRST_MS), 10_000_000);
  assert.equal(r.update(next + 2000, 3 * RATE_WINDOW_MS), 8000); // the quiet window complete
});

test('setMerging(false): small blocks go on one by one, as compressed blocks of the same records', () => {
  const small = writeInFileOrder(everyRecordItems(), TEST_HEADER, { blockSize: 300 });
  const out: Uint8Array[] = [];
  const r = new Recompressor((b) => out.push(b));
  r.setMerging(false);
  r.feed(small);
  r.end();
  const a = decode(small);
  const b = decode(concat(out));
  assert.deepEqual(b.items, a.items);
  assert.equal(b.blocks.length, a.blocks.length);
  assert.ok(decode(recompressCapture(small)).blocks.length < a.blocks.length);
});

test('packs: at the fast level the blocks go out in packs of their own bytes, in file order, and the header asks for a reader of version 5 or later', () => {
  const items = decode(realistic);
  const packed = recompressCapture(realistic, { level: FOLLOW_FAST_LEVEL, packs: true });
  const b = decode(packed);
  // 8 over a capture of the agent's version (7): its groups may be of the second layout; 5 for a capture of version 3.
  assert.equal(b.header?.version, Math.max(GROUP_LAYOUT2_VERSION, FORMAT_VERSION));
  assert.equal(b.header?.minReaderVersion, Math.max(GROUP_LAYOUT2_VERSION, MIN_READER_VERSION));
  const v3: Uint8Array[] = [];
  writeRealistic({ events: 5000, threads: 2, version: 3, sink: (x) => v3.push(x) });
  const h3 = decode(recompressCapture(concat(v3), { level: FOLLOW_FAST_LEVEL, packs: true })).header;
  assert.deepEqual([h3?.version, h3?.minReaderVersion], [PACK_FORMAT_VERSION, PACK_FORMAT_VERSION]);
  assert.deepEqual(b.warnings, []);
  // A pack keeps the blocks' order and bytes: the same records in the same order, not only per stream.
  assert.deepEqual(b.items, items.items);
  const packs = b.blocks.filter((x) => x.kind === BLOCK_KIND_GROUP);
  assert.ok(packs.length >= 1 && packs.every((x) => x.rawLen <= PACK_BYTES), JSON.stringify(packs));
  // The service stream's last blocks (the trailer's) come after the last pack as ordinary blocks: cleanEnd
  // reads how the capture ended without decoding the threads' events.
  const stored = b.blocks.filter((x) => x.headerLen > 0);
  assert.equal(stored.at(-1)?.kind, BLOCK_KIND_RECORDS);
  assert.equal(stored.at(-1)?.stream, STREAM_SERVICE);
  // Without packs the same level writes no group. (Not compared by size: this synthetic stream's values are
  // random, where an agent's repeat; on agent captures packs are a fifth smaller, docs/benchmarks.md.)
  assert.ok(!decode(recompressCapture(realistic, { level: FOLLOW_FAST_LEVEL, merge: false })).blocks.some((x) => x.kind === BLOCK_KIND_GROUP));
  // At quality 5 packs are not written (groups are, with their columns); the header still says version 8.
  const slow = decode(recompressCapture(realistic, { packs: true }));
  assert.equal(slow.header?.version, Math.max(GROUP_LAYOUT2_VERSION, FORMAT_VERSION));
  assert.deepEqual(byStream(slow.items), byStream(items.items));
});

test("wholeParts: at quality 5 full blocks go into packs as they are, small blocks still into groups by column; every stream's records kept", () => {
  // Full blocks (32 KiB): packs (groups of 0 columns), with every stream's records in their order.
  const whole = recompressCapture(realistic, { packs: true, wholeParts: true });
  // (The last group holds the service stream's last records alone, for cleanEnd: small, coded by column.)
  const cols = groupColumnCounts(whole);
  assert.ok(cols.length > 1 && cols.slice(0, -1).every((n) => n === 0), cols.join(' '));
  const a = decode(realistic);
  const b = decode(whole);
  assert.deepEqual(b.warnings, []);
  assert.deepEqual(byStream(b.items), byStream(a.items));
  // Without wholeParts (attach, --live, push) the same capture is coded by column, as before.
  assert.ok(groupColumnCounts(recompressCapture(realistic, { packs: true })).every((n) => n === GROUP_COLUMNS));
  // Small blocks (a quiet program's): merged and coded by column, packs or not.
  const small = writeInFileOrder(everyRecordItems(), TEST_HEADER, { blockSize: 300 });
  assert.ok(WHOLE_PART > 300);
  const smallOut = recompressCapture(small, { packs: true, wholeParts: true });
  const smallCols = groupColumnCounts(smallOut);
  assert.ok(smallCols.length > 0 && smallCols.every((n) => n === GROUP_COLUMNS), smallCols.join(' '));
  assert.deepEqual(byStream(decode(smallOut).items), byStream(decode(small).items));
  // Blocks that came between full ones go in whole once the groups are packs (no transcode): the records
  // are still all there, in each stream's order, with blocks of mixed sizes.
  const mixed: Uint8Array[] = [];
  writeRealistic({ events: 30000, threads: 3, blockSize: 12 << 10, sink: (x) => mixed.push(x) });
  const mixedIn = concat(mixed);
  const mixedOut = recompressCapture(mixedIn, { packs: true, wholeParts: true });
  assert.ok(groupColumnCounts(mixedOut).includes(0));
  assert.deepEqual(byStream(decode(mixedOut).items), byStream(decode(mixedIn).items));
});

/** A quiet aggregated program's capture: a thread's GC records, the service stream's SNAPSHOTs (with own_ns), BARRIERs and CHECKPOINTs, in small blocks. */
function quietCapture(version?: number, n = 300): Uint8Array {
  const items: Item[] = [];
  const snap = { type: 'snapshot', stream: 0, rssAnon: 6_000_000, rssFile: 3_000_000, rssShmem: 0, swap: 0, heap: undefined, cgroupUsage: undefined, cgroupLimit: undefined } as const;
  for (let k = 0; k < n; k++) {
    const seq = 1000 + 28 * k;
    items.push({
      type: 'gc',
      stream: 1,
      seq,
      timeNs: 40_000_000 + 133_000 * k + ((k * 7919) % 5000),
      generation: k % 10 === 9 ? 1 : 0,
      collected: k % 3,
      uncollectable: 0,
      durationNs: 19_000 + ((k * 4513) % 3000),
      startSeq: seq,
    });
    items.push({ type: 'barrier', stream: 0, seq });
    items.push({ ...snap, seq, timeNs: 40_000_000 + 133_000 * k, rss: 9_000_000 + 4096 * (k % 5), ownNs: 150_000 * k });
    if (k % 20 === 19) {
      const entries = [1, 2].map((stack) => ({
        stream: 1,
        stack,
        nativeStack: 0,
        allocator: 0,
        totalCount: 10 * k,
        totalBytes: 900 * k,
        liveCount: 7,
        liveBytes: 630,
        savedPeakCount: 9,
        savedPeakBytes: 810,
        updatedSeq: seq - stack,
      }));
      items.push({ type: 'checkpoint', stream: 0, seq, timeNs: 40_000_000 + 133_000 * k + 1, heap: 1260, peakHeap: 1620, peakSeq: 900, entries });
    }
  }
  return writeInFileOrder(items, { ...TEST_HEADER, options: 0, ...(version !== undefined ? { version } : {}) }, { blockSize: 300 });
}

/** The raw payloads of a capture's group blocks. */
function groupPayloads(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const f = new BlockFramer({
    header: () => undefined,
    block: (info, b) => {
      if (info.kind !== BLOCK_KIND_GROUP) return;
      const stored = b.subarray(info.headerLen, info.headerLen + info.storedLen);
      out.push((info.flags & BLOCK_FLAG_BROTLI) !== 0 ? new Uint8Array(brotliDecompressSync(stored)) : stored.slice());
    },
    damaged: () => undefined,
    truncated: () => undefined,
  });
  f.feed(bytes);
  f.end();
  return out;
}

test("the follower's end group of a quiet capture: the service stream's merged part coded by column (second layout) however long, its CHECKPOINTs whole", () => {
  const quiet = quietCapture();
  const out = recompressCapture(quiet, { packs: true, wholeParts: true });
  assert.deepEqual(byStream(decode(out).items), byStream(decode(quiet).items));
  const groups = groupPayloads(out);
  const last = groups.at(-1)!;
  // Its one part: the service stream's, of WHOLE_PART or more (it was a pack for that before version 8).
  const r = new ByteReader(last);
  assert.equal(r.varint(), 1);
  assert.equal(r.varint(), STREAM_SERVICE);
  r.varint();
  const len = r.varint();
  assert.ok(len >= WHOLE_PART && len < END_BY_COLUMN, `${len}`);
  assert.equal(r.varint(), GROUP_COLUMNS);
  // Its type column: SNAPSHOTs with own_ns and BARRIERs coded (0x46, 0x42), CHECKPOINTs (14) whole.
  const lens = Array.from({ length: GROUP_COLUMNS }, () => r.varint());
  const types = last.subarray(r.pos, r.pos + lens[0]!);
  const count = (t: number): number => types.filter((x) => x === t).length;
  assert.deepEqual([count(0x46), count(0x42), count(14), count(0x43)], [300, 300, 15, 0]);
  // From END_BY_COLUMN on (a longer quiet run's part), it is packed as before.
  assert.equal(groupColumnCounts(recompressCapture(quietCapture(undefined, 900), { packs: true, wholeParts: true })).at(-1), 0);
  // Over a capture of version 6 (first layout), the same part is still a pack, as before.
  const old = recompressCapture(quietCapture(6), { packs: true, wholeParts: true });
  assert.deepEqual(groupColumnCounts(old).at(-1), 0);
  assert.ok(
    groupColumnCounts(old)
      .slice(0, -1)
      .every((n) => n === GROUP_COLUMNS_1),
  );
});

test("packsOnlyPythonAllocators: with Python's allocators traced, small blocks go into packs whole too, never coded by column; every stream's records kept", () => {
  const opts = { packs: true, wholeParts: true, packsOnlyPythonAllocators: true } as const;
  // A quiet program's small blocks (300 bytes), with Python's allocators traced: packs only.
  const small = writeInFileOrder(everyRecordItems(), { ...TEST_HEADER, options: (TEST_HEADER.options ?? 0) | OPTION_PYTHON_ALLOCATORS }, { blockSize: 300 });
  const out = recompressCapture(small, opts);
  const cols = groupColumnCounts(out);
  assert.ok(cols.length > 0 && cols.every((n) => n === 0), cols.join(' '));
  const b = decode(out);
  assert.deepEqual(b.warnings, []);
  assert.deepEqual(byStream(b.items), byStream(decode(small).items));
  // Without Python's allocators traced, the same blocks are merged and coded by column, as before.
  const system = writeInFileOrder(everyRecordItems(), { ...TEST_HEADER, options: (TEST_HEADER.options ?? 0) & ~OPTION_PYTHON_ALLOCATORS }, { blockSize: 300 });
  const sysCols = groupColumnCounts(recompressCapture(system, opts));
  assert.ok(sysCols.length > 0 && sysCols.every((n) => n === GROUP_COLUMNS), sysCols.join(' '));
  // And without the option, with Python's allocators traced, too.
  const plainCols = groupColumnCounts(recompressCapture(small, { packs: true, wholeParts: true }));
  assert.ok(plainCols.length > 0 && plainCols.every((n) => n === GROUP_COLUMNS), plainCols.join(' '));
});

/**
 * Checks that every pack in `packed` (the Recompressor's output for `input`, a capture of uncompressed
 * records blocks) holds exactly the bytes group.ts's packPayload makes of the input blocks it took, in order;
 * returns the packs' part counts.
 */
function packsAsPackPayload(input: Uint8Array, packed: Uint8Array): number[] {
  const inBlocks = decode(input).blocks;
  const outBlocks = decode(packed).blocks.filter((b) => b.headerLen > 0);
  const payloadOf = (bytes: Uint8Array, b: (typeof inBlocks)[number]): Uint8Array => bytes.subarray(b.offset + b.headerLen, b.offset + b.headerLen + b.storedLen);
  const counts: number[] = [];
  let next = 0;
  for (const b of outBlocks) {
    if (b.kind !== BLOCK_KIND_GROUP) {
      next++;
      continue;
    }
    const raw = new Uint8Array(brotliDecompressSync(payloadOf(packed, b)));
    const count = new ByteReader(raw).varint();
    const parts = inBlocks.slice(next, next + count).map((x) => ({ stream: x.stream, baseSeq: x.baseSeq, payload: payloadOf(input, x) }));
    assert.equal(parts.length, count);
    assert.deepEqual(raw, packPayload(parts), `pack ${counts.length} (${count} parts)`);
    counts.push(count);
    next += count;
  }
  assert.equal(next, inBlocks.length);
  return counts;
}

test("packs: a pack's bytes stay within PACK_BYTES, filled to within a part of it (the reader's brotli ring stays at PACK_BYTES)", () => {
  // Past a power of two of output brotli's decoder doubles its ring buffer (compress.ts, PACK_BYTES): packs
  // used to go out at 1 MiB and up to one part more.
  const big: Uint8Array[] = [];
  writeRealistic({ events: 1_000_000, threads: 3, sink: (b) => big.push(b) });
  const packs = decode(recompressCapture(concat(big), { level: FOLLOW_FAST_LEVEL, packs: true })).blocks.filter((x) => x.kind === BLOCK_KIND_GROUP);
  assert.ok(packs.length >= 3, JSON.stringify(packs));
  assert.ok(
    packs.every((x) => x.rawLen <= PACK_BYTES),
    JSON.stringify(packs.map((x) => x.rawLen)),
  );
  assert.ok(
    packs.slice(0, -1).every((x) => x.rawLen > PACK_BYTES - (64 << 10)),
    JSON.stringify(packs.map((x) => x.rawLen)),
  );
});

test('packs: the same PACK_BYTES whatever the capture traces, at the fast level of each kind (default, --native, Python allocators)', () => {
  // Larger packs for the system allocator's captures (quality 2) were measured and not kept: 1 MiB made them
  // 10-20 % smaller but every report's peak 1-7 MiB higher (docs/benchmarks.md, "Packs' size per capture kind,
  // round sixteen").
  for (const options of [0, OPTION_NATIVE, OPTION_PYTHON_ALLOCATORS, OPTION_PYTHON_ALLOCATORS | OPTION_NATIVE]) {
    const big: Uint8Array[] = [];
    writeRealistic({ events: 600_000, threads: 3, options, sink: (b) => big.push(b) });
    const input = concat(big);
    const level = followFastLevel(options);
    const out = recompressCapture(input, { level, packs: true });
    const packs = decode(out).blocks.filter((x) => x.kind === BLOCK_KIND_GROUP);
    const sizes = JSON.stringify({ options, level, sizes: packs.map((x) => x.rawLen) });
    assert.ok(packs.length >= 3, sizes);
    assert.ok(
      packs.every((x) => x.rawLen <= PACK_BYTES),
      sizes,
    );
    assert.ok(
      packs.slice(0, -1).every((x) => x.rawLen > PACK_BYTES - (64 << 10)),
      sizes,
    );
    assert.deepEqual(decode(out).items, decode(input).items);
  }
});

test("packs: each pack's bytes are packPayload's of the blocks it took, with the agent's 32 KiB blocks and with thousands of small ones", () => {
  const big: Uint8Array[] = [];
  writeRealistic({ events: 400000, threads: 3, sink: (b) => big.push(b) });
  const input = concat(big);
  const counts = packsAsPackPayload(input, recompressCapture(input, { level: FOLLOW_FAST_LEVEL, packs: true }));
  assert.ok(counts.length >= 2, JSON.stringify(counts));
  // Blocks of 200 bytes: a pack of more than 1,500 parts, whose heads (5 bytes a part at least) take more than 4 KiB.
  const small: Uint8Array[] = [];
  writeRealistic({ events: 200000, threads: 3, blockSize: 200, sink: (b) => small.push(b) });
  const smallInput = concat(small);
  const smallCounts = packsAsPackPayload(smallInput, recompressCapture(smallInput, { level: FOLLOW_FAST_LEVEL, packs: true }));
  assert.ok(
    smallCounts.some((n) => n > 1500),
    JSON.stringify(smallCounts),
  );
  // Fed in chunks of every size, at levels that change in between (setLevel closes the pack): the same rule.
  for (const chunk of [1000, 65536, 1 << 20]) {
    const out: Uint8Array[] = [];
    const r = new Recompressor((b) => out.push(b), { packs: true });
    r.setMerging(false);
    r.setLevel(FOLLOW_FAST_LEVEL);
    for (let at = 0, k = 0; at < input.length; at += chunk, k++) {
      r.setLevel(k % 7 === 6 ? 0 : FOLLOW_FAST_LEVEL);
      r.feed(input.subarray(at, at + chunk));
    }
    r.end();
    packsAsPackPayload(input, concat(out));
  }
});

test('transientOutput: blocks in a buffer used again give the same bytes as blocks of their own, at every level, packs and groups', () => {
  const small = writeInFileOrder(everyRecordItems(), TEST_HEADER, { blockSize: 300 });
  for (const input of [realistic, small]) {
    for (const level of [0, FOLLOW_FAST_LEVEL, DEFAULT_COMPRESS_LEVEL]) {
      const own: Uint8Array[] = [];
      const reused: Uint8Array[] = [];
      const a = new Recompressor((b) => own.push(b), { level, packs: true });
      // The sink copies each array at once (as the follower writes it): what a later block overwrites is not seen.
      const b = new Recompressor((x) => reused.push(x.slice()), { level, packs: true, transientOutput: true });
      for (const r of [a, b]) {
        r.feed(input);
        r.end();
      }
      assert.deepEqual(concat(reused), concat(own), `level ${level}`);
    }
  }
  // Kept without a copy, a transient block is overwritten by the next: the option says the sink must not keep it.
  const kept: Uint8Array[] = [];
  const r = new Recompressor((x) => kept.push(x), { level: FOLLOW_FAST_LEVEL, merge: false, transientOutput: true });
  r.feed(realistic);
  r.end();
  assert.notDeepEqual(concat(kept), recompressCapture(realistic, { level: FOLLOW_FAST_LEVEL, merge: false }));
});

/** A records block's payload and place, as decode() saw it in `bytes`. */
function blockPayloads(bytes: Uint8Array): { info: Collected['blocks'][number]; stored: Uint8Array }[] {
  return decode(bytes)
    .blocks.filter((b) => b.headerLen > 0)
    .map((info) => ({ info, stored: bytes.subarray(info.offset + info.headerLen, info.offset + info.headerLen + info.storedLen) }));
}

/** A brotli group block (stream 0, base_seq 0) of `raw`, its CRC over the header's fields and `stored`. */
function brotliGroupBlock(stored: Uint8Array, rawLen: number): Uint8Array {
  const out = new Uint8Array(32 + stored.length);
  const dv = new DataView(out.buffer);
  out.set([0xeb, 0x4d, 0x4c, 0x42, 2, 32]);
  dv.setUint16(6, BLOCK_KIND_GROUP, true);
  dv.setUint32(8, stored.length, true);
  dv.setUint32(12, rawLen, true);
  out.set(stored, 32);
  dv.setUint32(16, crc32(out.subarray(32), crc32(out.subarray(20, 32), crc32(out.subarray(4, 16)))) >>> 0, true);
  return out;
}

test('packs at the fast level declare a brotli window of 2^18 (a reader holds a ring of 256 KiB, not of the pack), and read back the same records', () => {
  const big: Uint8Array[] = [];
  writeRealistic({ events: 400_000, threads: 3, sink: (b) => big.push(b) });
  const input = concat(big);
  for (const level of [0, FOLLOW_FAST_LEVEL]) {
    const packed = recompressCapture(input, { level, packs: true });
    const blocks = blockPayloads(packed).filter((b) => (b.info.flags & 2) !== 0);
    assert.ok(blocks.filter((b) => b.info.kind === BLOCK_KIND_GROUP && b.info.rawLen > PACK_BYTES - (64 << 10)).length >= 2, `quality ${level}`);
    for (const b of blocks) assert.ok(declaredLgwin(b.stored) <= FAST_LGWIN, `quality ${level}: a block of ${b.info.rawLen} bytes declares 2^${declaredLgwin(b.stored)}`);
    const out = decode(packed);
    assert.deepEqual(out.warnings, []);
    assert.deepEqual(out.items, decode(input).items);
  }
  // A block longer than a pack at a fast quality (a record of its own past 32 KiB) declares 2^18 too.
  const long = new Uint8Array(1 << 20).map((_, i) => (i * 2654435761) >>> 27);
  for (const level of [0, 1]) {
    const framed = encodeBlock(1, 0, long, { compressLevel: level, codec: 'brotli' });
    assert.equal(declaredLgwin(framed.subarray(32)), FAST_LGWIN);
    assert.deepEqual(new Uint8Array(brotliDecompressSync(framed.subarray(32))), long);
  }
  // At quality 5 a block's window is the one it was compressed with: its copies may reach that far.
  const slow = blockPayloads(recompressCapture(input)).filter((b) => (b.info.flags & 2) !== 0 && b.info.rawLen > 1 << 16);
  assert.ok(slow.length > 0 && slow.every((b) => declaredLgwin(b.stored) === 24));
});

test("a capture of round fourteen's writer (packs of up to 1 MiB declaring a window of 2^24) reads as before", () => {
  // Its packs made here as that writer made them: the agent's blocks in file order, up to 1 MiB a pack,
  // quality 0 with a window of 2^24 declared as it is.
  const big: Uint8Array[] = [];
  writeRealistic({ events: 400_000, threads: 3, sink: (b) => big.push(b) });
  const input = concat(big);
  const header = recompressCapture(input.subarray(0, blockPayloads(input)[0]!.info.offset), { packs: true });
  const old: Uint8Array[] = [header];
  let pack: { stream: number; baseSeq: number; payload: Uint8Array }[] = [];
  let bytes = 0;
  const flush = (): void => {
    if (pack.length === 0) return;
    const raw = packPayload(pack);
    const params = { [zlibConstants.BROTLI_PARAM_QUALITY]: 0, [zlibConstants.BROTLI_PARAM_LGWIN]: 24, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: raw.length };
    old.push(brotliGroupBlock(new Uint8Array(brotliCompressSync(raw, { params })), raw.length));
    pack = [];
    bytes = 0;
  };
  for (const { info, stored } of blockPayloads(input)) {
    if (bytes + stored.length + 32 > 1 << 20) flush();
    pack.push({ stream: info.stream, baseSeq: info.baseSeq, payload: stored });
    bytes += stored.length + 16;
  }
  flush();
  const capture = concat(old);
  const packs = blockPayloads(capture).filter((b) => b.info.kind === BLOCK_KIND_GROUP);
  assert.ok(
    packs.length >= 2 && packs.slice(0, -1).every((b) => b.info.rawLen > (1 << 20) - (64 << 10) && declaredLgwin(b.stored) === 24),
    JSON.stringify(packs.map((b) => [b.info.rawLen, declaredLgwin(b.stored)])),
  );
  const out = decode(capture);
  assert.deepEqual(out.warnings, []);
  assert.deepEqual(out.items, decode(input).items);
  // And beside it, the same records from this writer's packs: nothing in the reader assumes either.
  assert.deepEqual(decode(recompressCapture(input, { level: FOLLOW_FAST_LEVEL, packs: true })).items, out.items);
});
