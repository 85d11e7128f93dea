// bench/page-payload.ts: two pages of the same data with different viewers differ only by their viewer; a
// change to the data changes the payload's hash; its command line prints a line a page, and refuses a page
// with no payload.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { knownProgram } from '../test/support/synthetic-profile.js';
import { renderPage } from '../src/report/html/page.js';
import { pageParts } from './page-payload.js';

const A = { script: 'console.log("viewer a")', style: 'body{color:red}' };
const B = { script: 'console.log("viewer b")', style: 'body{color:blue}' };

test('page-payload: the same data under two viewers has the same payload and rest, another viewer', () => {
  const a = pageParts(renderPage(knownProgram(), A).html);
  const b = pageParts(renderPage(knownProgram(), B).html);
  assert.deepEqual(a.payload, b.payload);
  assert.deepEqual(a.container, b.container);
  assert.equal(a.rest, b.rest);
  assert.notEqual(a.viewer, b.viewer);
  assert.ok(
    a.payload.some((l) => l.startsWith('timeline.rss [101] [')),
    a.payload.join('\n').slice(0, 400),
  );
  assert.ok(a.payload.some((l) => l.startsWith('temporal.kind "peak"')));
  const other = knownProgram();
  other.timeline.rss[100] = 1;
  const c = pageParts(renderPage(other, A).html);
  assert.notDeepEqual(c.payload, a.payload);
  assert.equal(c.payload.filter((l, i) => l !== a.payload[i]).length, 1);
  assert.equal(c.rest, a.rest);
});

test('page-payload: its command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-page-payload-'));
  try {
    const script = fileURLToPath(new URL('./page-payload.js', import.meta.url));
    writeFileSync(join(dir, 'a.html'), renderPage(knownProgram(), A).html);
    writeFileSync(join(dir, 'b.html'), renderPage(knownProgram(), B).html);
    writeFileSync(join(dir, 'none.html'), '<html></html>');
    const ok = spawnSync(process.execPath, [script, join(dir, 'a.html'), join(dir, 'b.html')], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    const lines = ok.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    const fields = lines.map((l) => l.split(' ').slice(0, 4));
    assert.deepEqual(fields[0]?.slice(0, 3), fields[1]?.slice(0, 3));
    assert.notEqual(fields[0]?.[3], fields[1]?.[3]);
    assert.match(lines[0] ?? '', /^payload=[0-9a-f]{16} container=[0-9a-f]{16} rest=[0-9a-f]{16} viewer=[0-9a-f]{16} .*a\.html$/);
    const dump = spawnSync(process.execPath, [script, '--dump', join(dir, 'a.html')], { encoding: 'utf8' });
    assert.equal(dump.status, 0, dump.stderr);
    assert.match(dump.stdout, /^meta \{"title":/);
    const bad = spawnSync(process.execPath, [script, join(dir, 'none.html')], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /not a memlens flame graph page/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
