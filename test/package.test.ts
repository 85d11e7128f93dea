// What `npm pack` ships (package.json "files"): everything memlens needs to run, and no tests. The
// compiled unit tests sit beside the code in dist/src/ and import test/support/, which is not shipped;
// dist/viewer/src/ is tsc's type-checking output of the viewer, whose page uses only the esbuild bundles.
// Needs `npm run build` first (npm test does it); --ignore-scripts, because the pack's own build step
// would empty dist/ under the tests that are running.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

function packedFiles(): string[] {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [pack] = JSON.parse(r.stdout) as { files: { path: string }[] }[];
  assert.ok(pack !== undefined, r.stdout);
  return pack.files.map((f) => f.path);
}

const packed = packedFiles();
const isTest = (p: string): boolean => /\.test\.js(\.map)?$/.test(p) || p.split('/').includes('test');

test('the package carries no tests: no *.test.js, no test/ folder', () => {
  assert.deepEqual(packed.filter(isTest), []);
});

test('the package carries what memlens needs to run', () => {
  const needed = [
    'bin/memlens.js',
    'bin/cli-bundle.js',
    // The CLI's bundles with their code caches: the whole CLI, and the reports' (bin/cli-bundle.js).
    ...['memlens.cjs', 'memlens-reports.cjs'].flatMap((f) => [`dist/${f}`, `dist/${f}.v8cache`]),
    'scripts/build-agent.mjs',
    ...['viewer.js', 'viewer-style.css', 'live.js', 'live-style.css'].map((f) => `dist/viewer/${f}`),
    ...filesUnder('dist/src').filter((p) => !isTest(p)),
    ...filesUnder('agent/src'),
    ...filesUnder('agent/python').filter((p) => p.endsWith('.py')),
  ];
  assert.ok(
    needed.some((p) => p.startsWith('dist/src/cli/')),
    'dist/src is built',
  );
  const have = new Set(packed);
  assert.deepEqual(
    needed.filter((p) => !have.has(p)),
    [],
  );
});

test('no shipped module imports from the tests', () => {
  const reachesTests = /from ['"][^'"]*\/test\//;
  const offenders = packed.filter((p) => p.endsWith('.js') && reachesTests.test(readFileSync(join(root, p), 'utf8')));
  assert.deepEqual(offenders, []);
  assert.ok(packed.filter((p) => p.endsWith('.js')).length > 50, 'the pack lists its modules');
});
