// Golden captures (test/fixtures/captures/, see its README.md): the encoder still writes them byte for
// byte, and `memlens parse` prints what it printed before. UPDATE_GOLDEN=1 rewrites the files. The group
// captures of the second layout are checked to hold what that layout codes apart from the first, so that
// their golden bytes and records pin it.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BLOCK_KIND_GROUP, RESERVED_TAG } from '../src/capture/format.js';
import { BlockFramer } from '../src/capture/framing.js';
import { GROUP_COLUMNS_2 } from '../src/capture/group.js';
import { decodeHeader } from '../src/capture/header.js';
import { main } from '../src/cli/main.js';
import { checkGolden, FIXTURES, UPDATE_GOLDEN } from './support/golden.js';
import { memoryIo } from './support/memory-io.js';
import { makeFixtures } from './fixtures/captures/make-fixtures.js';

const dir = join(FIXTURES, 'captures');
const golden = (name: string, actual: string): void => checkGolden(join(dir, name), actual);

const fixtures = makeFixtures();

for (const [name, bytes] of fixtures) {
  test(`golden capture ${name}: the encoder writes the same bytes`, () => {
    const path = join(dir, name);
    if (UPDATE_GOLDEN) writeFileSync(path, bytes);
    assert.ok(existsSync(path), `${name} is missing: run the tests with UPDATE_GOLDEN=1`);
    const onDisk = readFileSync(path);
    assert.ok(Buffer.compare(onDisk, bytes) === 0, `${name}: the encoder's output changed (${onDisk.length} bytes on disk, ${bytes.length} now)`);
  });

  for (const json of [false, true]) {
    test(`golden capture ${name}: memlens parse${json ? ' --json' : ''}`, async () => {
      const io = memoryIo({ cwd: dir });
      const code = await main(['parse', ...(json ? ['--json'] : []), name], io);
      const base = name.replace(/\.mlens$/, '');
      golden(`${base}.parse.${json ? 'jsonl' : 'txt'}`, io.out());
      if (!json) golden(`${base}.parse.stderr.txt`, `exit ${code}\n${io.err()}`);
      else assert.equal(code, 0);
    });
  }
}

/** The columns of each uncompressed group block of a capture (group.ts's payload: parts' heads, column lengths, columns). */
function groupColumns(capture: Uint8Array): Uint8Array[][] {
  const groups: Uint8Array[][] = [];
  const f = new BlockFramer({
    header: () => undefined,
    block: (info, b) => {
      if (info.kind !== BLOCK_KIND_GROUP) return;
      assert.equal(info.flags, 0, 'an uncompressed group');
      const g = b.subarray(info.headerLen, info.headerLen + info.storedLen);
      let p = 0;
      const varint = (): number => {
        let v = 0;
        for (let mul = 1; ; mul *= 128) {
          const x = g[p++]!;
          v += (x & 0x7f) * mul;
          if (x < 0x80) return v;
        }
      };
      const n = varint();
      for (let k = 0; k < 3 * n; k++) varint();
      const lens = Array.from({ length: varint() }, varint);
      groups.push(lens.map((len) => g.subarray(p, (p += len))));
      assert.equal(p, g.length, 'the columns fill the group');
    },
    damaged: () => assert.fail('a damaged block'),
    truncated: () => assert.fail('a truncated capture'),
  });
  f.feed(capture);
  f.end();
  return groups;
}

test('golden capture every-record-group2.mlens: version 8, groups of the second layout using every coding it adds', () => {
  const bytes = fixtures.get('every-record-group2.mlens')!;
  const h = decodeHeader(bytes);
  assert.equal(h.version, 8);
  assert.equal(h.minReaderVersion, 8);
  const groups = groupColumns(bytes);
  assert.ok(groups.length >= 3, `${groups.length} groups`);
  const used = new Array<number>(GROUP_COLUMNS_2).fill(0);
  let snapshots12 = 0;
  let gcStarts = 0;
  for (const cols of groups) {
    assert.equal(cols.length, GROUP_COLUMNS_2);
    cols.forEach((c, i) => (used[i]! += c.length));
    for (const t of cols[0]!) {
      if (t === (RESERVED_TAG | 6)) snapshots12++;
      if (t === (RESERVED_TAG | 7)) gcStarts++;
    }
  }
  // Coded SNAPSHOTs of 12 fields (with own_ns) and GC_STARTs, in the type column and their own columns (45 to
  // 56, 57); GC records coded (7 to 13), their time and duration split (the last four: second bytes and rests).
  assert.equal(snapshots12, 5);
  assert.equal(gcStarts, 6);
  const empty = used.flatMap((n, i) => (n === 0 && (i >= 45 || (i >= 7 && i <= 13)) ? [i] : []));
  assert.deepEqual(empty, [], 'columns of the second layout that no record used');
});
