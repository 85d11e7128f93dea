#!/usr/bin/env node
// Bundles the CLI (dist/src, after tsc) into one CommonJS file, dist/memlens.cjs, and makes V8's code cache
// for it (dist/memlens.cjs.v8cache), which bin/memlens.js loads: a quarter less CPU on `memlens run`'s way
// than the ES modules of dist/src (docs/benchmarks.md, "Fixed cost"). Run by `npm run build` after tsc.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleCli } from './cli-bundle.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const outfile = join(root, 'dist', 'memlens.cjs');
rmSync(`${outfile}.v8cache`, { force: true });
await bundleCli({ root, outfile, define: { __MEMLENS_NPM_BUNDLE__: 'true' }, banner: '// memlens CLI, bundled from dist/src by scripts/build-cli.mjs.' });
// The cache is made by node with the flags memlens runs with (V8 refuses a cache made under other flags),
// after running `memlens run` on an empty script: what that compiles (the modules' top levels, the command
// table, argument parsing, the launch, the capture's finish) is in it, the rest compiles lazily as usual.
// That took 4-5 ms off `memlens run`'s fixed cost against a cache made after `memlens --help`, which is
// what it falls back to when the run cannot be made here (no agent built, no python3).
const { NODE_FLAGS } = await import(join(root, 'dist', 'src', 'util', 'node-flags.js'));
const loader = JSON.stringify(join(root, 'bin', 'cli-bundle.js'));
const makeCache = (argv) =>
  spawnSync(process.execPath, [...NODE_FLAGS, '--input-type=module', '-e', `process.argv = [process.argv[0], 'memlens', ...${JSON.stringify(argv)}]; (await import(${loader})).makeCodeCache();`], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
let r = { status: 1 };
if (existsSync(join(root, 'agent', 'build', 'libmemlens_agent.so'))) {
  const warm = mkdtempSync(join(tmpdir(), 'memlens-build-cli-'));
  try {
    writeFileSync(join(warm, 'empty.py'), 'pass\n');
    r = makeCache(['run', '-q', '-f', '-o', join(warm, 'empty.mlens'), join(warm, 'empty.py')]);
  } finally {
    rmSync(warm, { recursive: true, force: true });
  }
}
if (r.status !== 0) r = makeCache(['--help']);
if (r.status !== 0) {
  console.error(`build-cli: making the code cache failed (${r.status ?? r.signal}): ${r.stderr}`);
  process.exit(1);
}
