#!/usr/bin/env node
// Bundles the CLI (dist/src, after tsc) into one CommonJS file, dist/memlens.cjs, and makes V8's code cache
// for it (dist/memlens.cjs.v8cache), which bin/memlens.js loads: a quarter less CPU on `memlens run`'s way
// than the ES modules of dist/src (docs/benchmarks.md, "Fixed cost"). Run by `npm run build` after tsc.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * `await import('node:x')` stays a dynamic import() in a CommonJS bundle, and the bundle runs through
 * vm.Script (for the code cache), where import() needs a loader callback that Node 20 has only as an
 * experimental feature (with a warning on stderr). A builtin is required instead, through a one-line module.
 */
function builtinDynamicImports() {
  return {
    name: 'builtin-dynamic-imports',
    setup(b) {
      b.onResolve({ filter: /^node:/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, namespace: 'builtin' } : undefined));
      b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
    },
  };
}
const outfile = join(root, 'dist', 'memlens.cjs');
rmSync(`${outfile}.v8cache`, { force: true });
await build({
  stdin: { contents: "import { run } from './dist/src/cli/bin.js';\nrun();\n", resolveDir: root, sourcefile: 'memlens-entry.js' },
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // src/util/package-root.ts: the bundle is <root>/dist/memlens.cjs; import.meta has no meaning in CommonJS.
  define: { __MEMLENS_NPM_BUNDLE__: 'true', 'import.meta.url': '__memlensBundleUrl' },
  banner: { js: '// memlens CLI, bundled from dist/src by scripts/build-cli.mjs.\nconst __memlensBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  legalComments: 'none',
  // Without comments and indentation the bundle is a quarter smaller (0.8 to 0.6 MB) and all ASCII (the
  // comments held the only other characters): reading, summing and decoding it at each start cost about 1.5
  // ms less (docs/benchmarks.md, "The fixed cost, round three"). Names stay as written: a stack trace of an
  // internal error still says which function failed.
  minifyWhitespace: true,
  logLevel: 'warning',
  plugins: [builtinDynamicImports()],
});
// Nothing may be left that needs import() at run time (see builtinDynamicImports).
if (/\bimport\(/.test(readFileSync(outfile, 'utf8'))) {
  console.error(`build-cli: ${outfile} still holds an import(): a dynamic import of something the bundle does not contain`);
  process.exit(1);
}
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
