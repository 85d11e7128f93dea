#!/usr/bin/env node
// Bundles the CLI (dist/src, after tsc) into one CommonJS file, dist/memlens.cjs, and makes V8's code cache
// for it (dist/memlens.cjs.v8cache), which bin/memlens.js loads: a quarter less CPU on `memlens run`'s way
// than the ES modules of dist/src (docs/benchmarks.md, "Fixed cost"). Run by `npm run build` after tsc.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
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
  logLevel: 'warning',
});
// The cache is made by node with the flags memlens runs with (V8 refuses a cache made under other flags),
// after running `memlens --help`: what that compiles (the modules' top levels, the command table, argument
// parsing) is in it; the rest compiles lazily as usual.
const { NODE_FLAGS } = await import(join(root, 'dist', 'src', 'util', 'node-flags.js'));
const loader = JSON.stringify(join(root, 'bin', 'cli-bundle.js'));
const r = spawnSync(process.execPath, [...NODE_FLAGS, '--input-type=module', '-e', `process.argv = [process.argv[0], 'memlens', '--help']; (await import(${loader})).makeCodeCache();`], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
if (r.status !== 0) {
  console.error(`build-cli: making the code cache failed (${r.status ?? r.signal})`);
  process.exit(1);
}
