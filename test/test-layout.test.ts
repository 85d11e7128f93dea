// The test layout of test/README.md, as far as a program can check it: no two test files share a name,
// and a test beside the code does not reach for the helpers that start real processes (memlens runs, a
// browser, tmux, a container), which belong to the process-level tests under test/.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...testFiles(p));
    else if (entry.name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const files = ['src', 'test', 'viewer', 'bench'].flatMap((d) => testFiles(join(root, d)));

test('the tree has test files in each place the layout names', () => {
  for (const where of ['src/', 'test/', 'viewer/src/'])
    assert.ok(
      files.some((f) => f.startsWith(where)),
      `no test file under ${where}`,
    );
});

test('no two test files share a name', () => {
  const byName = new Map<string, string[]>();
  for (const f of files) byName.set(basename(f), [...(byName.get(basename(f)) ?? []), f]);
  const shared = [...byName.values()].filter((paths) => paths.length > 1);
  assert.deepEqual(shared, [], 'rename them after what they check (test/README.md)');
});

test('tests beside the code do not start memlens, a browser, tmux or a container', () => {
  const processHelpers = /support\/(memlens-run|browser|tmux|container)\.js'/;
  const offenders = files.filter((f) => !f.startsWith('test/') && processHelpers.test(readFileSync(join(root, f), 'utf8')));
  assert.deepEqual(offenders, [], 'process-level tests go under test/ (test/README.md)');
});

test("a test that starts memlens keeps memlens's cache files out of the home (support/cache-home.ts)", () => {
  // What starts memlens: its executable, the helpers that run it, the wheel's environment.
  const startsMemlens = /bin', 'memlens\.js'|\bMEMLENS(_BIN)?\b|\bmemlensRun\b|\benvWithoutNode\b/;
  // Modules that import cache-home.ts (pythons.ts does, and every helper that starts memlens imports it), or
  // a cache home the test names itself.
  const isolated = /support\/(cache-home|pythons|memlens-run|pip|other-user)\.js'|XDG_CACHE_HOME/;
  const offenders = files.filter((f) => {
    const text = readFileSync(join(root, f), 'utf8');
    return startsMemlens.test(text) && !isolated.test(text);
  });
  assert.deepEqual(offenders, [], 'import test/support/cache-home.js (or a helper that does)');
});
