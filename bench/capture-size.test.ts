// bench/capture-size.ts counts the records of group blocks (packs and columns) as a reader reads them: the
// same capture stored as ordinary blocks, as groups by column and as packs gives the same counts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { recompressCapture } from '../src/capture/compress.js';
import { concat } from '../src/capture/encoder.js';
import { REPO_ROOT } from '../test/support/pythons.js';
import { writeRealistic } from '../test/support/synthetic.js';
import { captureSize, type CaptureSize } from './capture-size.js';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'captures');

function counts(s: CaptureSize): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, k] of [...s.kinds].sort((a, b) => a[0].localeCompare(b[0]))) out[name] = k.count;
  return out;
}

test('capture-size counts the records in packs as in ordinary blocks', () => {
  // What the agent writes (uncompressed records blocks of three threads), and what memlens run's follower
  // makes of it at its fast level: packs (format version 5).
  const blocks: Uint8Array[] = [];
  writeRealistic({ events: 20000, threads: 3, sink: (b) => blocks.push(b) });
  const plain = concat(blocks);
  const base = captureSize(plain);
  assert.equal(base.groups, 0);
  assert.ok((base.kinds.get('ALLOC')?.count ?? 0) > 1000, JSON.stringify(counts(base)));
  const packed = captureSize(recompressCapture(plain, { level: 1, codec: 'brotli', packs: true }));
  assert.ok(packed.packs > 0, 'the recompressed capture holds packs');
  assert.equal(packed.packs, packed.groups);
  assert.deepEqual(counts(packed), counts(base));
  assert.equal(packed.rawTotal, base.rawTotal, 'the parts put back are the blocks they stand for');
  assert.equal(packed.events, base.events);
  assert.deepEqual(packed.unreadableGroups, []);
});

test('capture-size counts the records in groups by column as in ordinary blocks', () => {
  const base = captureSize(readFileSync(join(FIXTURES, 'realistic-small.mlens')));
  assert.ok((base.kinds.get('ALLOC')?.count ?? 0) > 100, JSON.stringify(counts(base)));
  // memlens's recompression at its default level: several streams' records by column (format version 4).
  const columns = captureSize(readFileSync(join(FIXTURES, 'realistic-small-group.mlens')));
  assert.ok(columns.groups > 0 && columns.packs === 0, `${columns.groups} groups, ${columns.packs} packs`);
  assert.deepEqual(counts(columns), counts(base));
  assert.equal(columns.events, base.events);
});
