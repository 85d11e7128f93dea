// ModelBuilder.current(): the model in the middle of a stream equals the model a fresh builder gives when
// fed the same records and finished there, and asking for it changes nothing about what comes later.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CaptureDecoder } from '../capture/decoder.js';
import { SeqOrderer } from '../capture/order.js';
import type { CaptureHeader } from '../capture/records.js';
import { CallRecorder, feedCalls, modelDigest } from '../../test/support/model-digest.js';
import { randomStream, type StreamCall } from '../../test/support/random-stream.js';
import { type BuildOptions, ModelBuilder } from './builder.js';
import { lineTableResolver } from './lines.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixture = (name: string): string => join(root, 'test', 'fixtures', 'captures', name);

/** Cuts at every `step` calls (and at 0 and the end); current() at each against a fresh builder's finish(). */
function checkCuts(header: CaptureHeader, calls: readonly StreamCall[], step: number, options: () => BuildOptions): void {
  const live = new ModelBuilder(options());
  live.header(header);
  let fed = 0;
  const cuts: number[] = [];
  for (let k = 0; k < calls.length; k += step) cuts.push(k);
  cuts.push(calls.length);
  for (const cut of cuts) {
    feedCalls(live, calls, fed, cut);
    fed = cut;
    const middle = modelDigest(live.current());
    // Twice in a row gives the same model (nothing in current() accumulates).
    assert.deepEqual(modelDigest(live.current()), middle, `current() twice at ${cut}`);
    const fresh = new ModelBuilder(options());
    fresh.header(header);
    feedCalls(fresh, calls, 0, cut);
    assert.deepEqual(middle, modelDigest(fresh.finish()), `cut at call ${cut} of ${calls.length}`);
  }
  const untouched = new ModelBuilder(options());
  untouched.header(header);
  feedCalls(untouched, calls, 0, calls.length);
  assert.deepEqual(modelDigest(live.finish()), modelDigest(untouched.finish()), 'finish() after current() calls');
}

const instrAsLine = { lineResolver: (_c: unknown, instr: number) => instr } as const;

for (const seed of [1, 2, 3, 4, 5, 6]) {
  test(`current() at every cut of random stream ${seed} equals a fresh builder finished there`, () => {
    const stream = randomStream(seed, { events: 1200, mmapShare: seed % 3 === 0 ? 0.3 : 0.1 });
    checkCuts(stream.header, stream.calls, 37 + seed, () => ({ ...instrAsLine, temporaryThreshold: seed % 3 }));
  });
}

test('current() with a seq window: before, inside and after it', () => {
  const stream = randomStream(31, { events: 1200 });
  checkCuts(stream.header, stream.calls, 41, () => ({ ...instrAsLine, window: { fromSeq: 300, toSeq: 700 } }));
});

test('current() with a time window (opened by a snapshot that arrives mid-stream)', () => {
  const stream = randomStream(32, { events: 1500 });
  const times = stream.calls.flatMap((c) => (c.kind === 'meta' && c.record.type === 'snapshot' ? [c.record.timeNs] : []));
  assert.ok(times.length >= 4, `the stream has snapshots (${times.length})`);
  const fromNs = times[Math.floor(times.length / 4)]!;
  const toNs = times[Math.floor((3 * times.length) / 4)]!;
  checkCuts(stream.header, stream.calls, 53, () => ({ ...instrAsLine, window: { fromNs, toNs } }));
});

function decodeFile(path: string): CallRecorder {
  const rec = new CallRecorder();
  const orderer = new SeqOrderer(rec);
  const decoder = new CaptureDecoder(orderer, { source: path });
  decoder.feed(readFileSync(path));
  decoder.end();
  orderer.end();
  return rec;
}

for (const name of ['known-program.mlens', 'known-program-native.mlens', 'every-record.mlens', 'realistic-small.mlens']) {
  test(`current() at every cut of ${name} equals a fresh builder finished there`, () => {
    const rec = decodeFile(fixture(name));
    assert.ok(rec.headerRecord !== undefined);
    const aggregated = rec.calls.some((c) => c.kind === 'meta' && c.record.type === 'checkpoint');
    if (name === 'every-record.mlens') assert.ok(aggregated, 'every-record.mlens has CHECKPOINT records: the aggregated path is taken');
    checkCuts(rec.headerRecord, rec.calls, Math.max(1, Math.floor(rec.calls.length / 60)), () => ({ lineResolver: lineTableResolver() }));
  });
}

test('a frame whose CODE record comes after a current() call gets its name then', () => {
  const stream = randomStream(3, { events: 800 });
  // Move every CODE record to the end: until then the frames are <unknown code N>.
  const codes = stream.calls.filter((c) => c.kind === 'meta' && c.record.type === 'code');
  const rest = stream.calls.filter((c) => !(c.kind === 'meta' && c.record.type === 'code'));
  const b = new ModelBuilder(instrAsLine);
  b.header(stream.header);
  feedCalls(b, rest, 0, rest.length);
  const before = b.current();
  assert.ok(before.frames.unknownCodes > 0);
  feedCalls(b, codes, 0, codes.length);
  const after = b.current();
  assert.equal(after.frames.unknownCodes, 0);
  const all = [...rest, ...codes];
  const fresh = new ModelBuilder(instrAsLine);
  fresh.header(stream.header);
  feedCalls(fresh, all, 0, all.length);
  assert.deepEqual(modelDigest(after), modelDigest(fresh.finish()));
});
