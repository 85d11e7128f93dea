// The flame graph's source lines: read once per file, only the lines wanted kept, each as the whole file's
// split would give it.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { prng } from '../../../test/support/prng.js';
import { readSourceLines, sourceReader } from './flamegraph.run.js';

const dir = mkdtempSync(join(tmpdir(), 'memlens-sources-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Bytes with newlines, CRs, multi-byte and broken UTF-8 sequences (some cut by a newline), a BOM. */
function randomText(rnd: () => number, n: number): Buffer {
  const pieces = [
    Buffer.from('\n'),
    Buffer.from('\r\n'),
    Buffer.from('é'),
    Buffer.from('😀'),
    Buffer.from([0xe2, 0x82]),
    Buffer.from([0xf0, 0x9f]),
    Buffer.from([0xff]),
    Buffer.from([0xc3]),
    Buffer.from('\ufeff'),
    Buffer.from('x = 1'),
  ];
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) out.push(pieces[Math.floor(rnd() * pieces.length)]!);
  return Buffer.concat(out);
}

test('a line read alone is the line of the whole file split at newlines, null past the end', () => {
  const rnd = prng(11);
  for (let k = 0; k < 60; k++) {
    const path = join(dir, `f${k}.py`);
    const bytes = randomText(rnd, Math.floor(rnd() * 200));
    writeFileSync(path, bytes);
    const split = bytes.toString('utf8').split('\n');
    const lines = Array.from({ length: split.length + 3 }, (_, i) => i + 1).filter(() => rnd() < 0.6);
    lines.push(0, -1, 1.5);
    const got = readSourceLines(path, lines.reverse())!;
    for (const line of lines) assert.equal(got.get(line), split[line - 1] ?? null, `file ${k} line ${line}`);
  }
  assert.equal(readSourceLines(join(dir, 'missing.py'), [1]), null);
  assert.equal(readSourceLines(dir, [1]), null, 'a directory');
});

test('the reader keeps the wanted lines, reads a line not wanted too, and gives null for what it cannot read', () => {
  const path = join(dir, 'app.py');
  const text = ['import os', '', 'def main():', `    x = "${'y'.repeat(400)}"`, '    return 1', ''].join('\n');
  writeFileSync(path, text);
  const r = sourceReader(dir);
  r.want('app.py', 3);
  r.want(path, 4);
  r.want('<frozen importlib._bootstrap>', 1);
  assert.equal(r.read('app.py', 3), 'def main():');
  assert.equal(r.read(path, 4), `    x = "${'y'.repeat(291)}…`, 'cut to 300 characters');
  // Not wanted: read all the same (the file again).
  assert.equal(r.read('app.py', 1), 'import os');
  assert.equal(r.read('app.py', 5), '    return 1');
  assert.equal(r.read('app.py', 7), null, 'past the end');
  assert.equal(r.read('<frozen importlib._bootstrap>', 1), null);
  assert.equal(r.read('', 1), null);
  assert.equal(r.read('nowhere.py', 1), null);
  assert.equal(r.skipped(), 0);
});
