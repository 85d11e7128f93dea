#!/usr/bin/env node
// Bundles the CLI (dist/src, after tsc) into CommonJS files, dist/memlens.cjs (the whole CLI) and
// dist/memlens-reports.cjs (the report commands alone: scripts/cli-bundle.mjs), and makes V8's code cache for
// each (<bundle>.v8cache), which bin/memlens.js loads: a quarter less CPU on `memlens run`'s way than the ES
// modules of dist/src (docs/benchmarks.md, "Fixed cost"). Run by `npm run build` after tsc.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleCli, CLI_BUNDLES } from './cli-bundle.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

for (const { file, reports } of CLI_BUNDLES) {
  const outfile = join(root, 'dist', file);
  rmSync(`${outfile}.v8cache`, { force: true });
  await bundleCli({ root, outfile, reports, define: { __MEMLENS_NPM_BUNDLE__: 'true' }, banner: '// memlens CLI, bundled from dist/src by scripts/build-cli.mjs.' });
}
// The caches are made by node with the flags memlens runs with (V8 refuses a cache made under other flags).
// The whole CLI's after running `memlens run` on an empty script: what that compiles (the modules' top
// levels, the command table, argument parsing, the launch, the capture's finish) is in it, the rest
// compiles lazily as usual. That took 4-5 ms off `memlens run`'s fixed cost against a cache made after
// `memlens --help`, which is what it falls back to when the run cannot be made here (no agent built, no
// python3). The reports' after the CLI's start alone (`--version`): V8 deserializes all of a cache at the
// start, and what a report compiles as it runs held more of its peak as a cache than compiled when first
// called (docs/benchmarks.md, "The CLI's own code at a report's peak").
const { NODE_FLAGS } = await import(join(root, 'dist', 'src', 'util', 'node-flags.js'));
const loader = JSON.stringify(join(root, 'bin', 'cli-bundle.js'));
const makeCache = (file, argv) =>
  spawnSync(
    process.execPath,
    [
      ...NODE_FLAGS,
      '--input-type=module',
      '-e',
      `process.argv = [process.argv[0], 'memlens', ...${JSON.stringify(argv)}]; (await import(${loader})).makeCodeCache(${JSON.stringify(join(root, 'dist', file))});`,
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    },
  );
let r = { status: 1 };
if (existsSync(join(root, 'agent', 'build', 'libmemlens_agent.so'))) {
  const warm = mkdtempSync(join(tmpdir(), 'memlens-build-cli-'));
  try {
    writeFileSync(join(warm, 'empty.py'), 'pass\n');
    r = makeCache('memlens.cjs', ['run', '-q', '-f', '-o', join(warm, 'empty.mlens'), join(warm, 'empty.py')]);
  } finally {
    rmSync(warm, { recursive: true, force: true });
  }
}
if (r.status !== 0) r = makeCache('memlens.cjs', ['--help']);
if (r.status === 0) r = makeCache('memlens-reports.cjs', ['--version']);
if (r.status !== 0) {
  console.error(`build-cli: making the code cache failed (${r.status ?? r.signal}): ${r.stderr}`);
  process.exit(1);
}
