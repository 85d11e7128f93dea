// The CLI bundles' esbuild options, shared by the npm package (scripts/build-cli.mjs, dist/memlens.cjs) and
// the Python wheel (scripts/build-wheel.mjs, _payload/dist/memlens.cjs): CommonJS files that bin/memlens.js
// starts through bin/cli-bundle.js. Two of them: the whole CLI (memlens.cjs), and the reports' (the commands
// of src/cli/report-registry.ts alone, memlens-reports.cjs), which a report starts instead: V8 keeps a
// bundle's whole source for as long as the CLI runs (to compile its functions when first called), and the
// reports' is a quarter smaller, without `run`, `attach`, the live view and the pushes (docs/benchmarks.md,
// "The CLI's own code at a report's peak").
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

/** The bundles, in dist/ (bin/cli-bundle.js: BUNDLE, REPORTS_BUNDLE). */
export const CLI_BUNDLES = [
  { file: 'memlens.cjs', reports: false },
  { file: 'memlens-reports.cjs', reports: true },
];

/** The reports' bundle: src/cli/report-registry.ts where src/cli/main.ts imports src/cli/registry.ts. */
function reportsRegistry() {
  return {
    name: 'reports-registry',
    setup(b) {
      b.onResolve({ filter: /^\.\/registry\.js$/ }, (args) => (/[\\/]dist[\\/]src[\\/]cli[\\/]main\.js$/.test(args.importer) ? { path: args.importer.replace(/main\.js$/, 'report-registry.js') } : undefined));
    },
  };
}

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

/**
 * Bundles dist/src (after tsc) under `root` into `outfile`, the reports' commands alone when `reports`;
 * `define` says which package it is for (src/util/package-root.ts). Exits the build with a message when
 * the bundle still needs import(), or when the reports' bundle holds `run`.
 */
export async function bundleCli({ root, outfile, define, banner, reports = false }) {
  const result = await build({
    stdin: { contents: "import { run } from './dist/src/cli/bin.js';\nrun();\n", resolveDir: root, sourcefile: 'memlens-entry.js' },
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // src/util/package-root.ts: the bundle is <root>/dist/memlens.cjs; import.meta has no meaning in CommonJS.
    define: { ...define, 'import.meta.url': '__memlensBundleUrl' },
    banner: { js: `${banner}\nconst __memlensBundleUrl = require("node:url").pathToFileURL(__filename).href;` },
    legalComments: 'none',
    // Without comments and indentation the bundle is a quarter smaller (0.8 to 0.6 MB) and all ASCII (the
    // comments held the only other characters): reading, summing and decoding it at each start cost about 1.5
    // ms less (docs/benchmarks.md, "The fixed cost, round three"). Names stay as written: a stack trace of an
    // internal error still says which function failed.
    minifyWhitespace: true,
    // Syntax too (names still kept): with both, 800 to 560 KiB, and `memlens --version` 48.8 to 47.0 MiB of
    // RSS, V8 keeping the source for lazy compilation (docs/benchmarks.md, "Report memory").
    minifySyntax: true,
    logLevel: 'warning',
    plugins: [builtinDynamicImports(), ...(reports ? [reportsRegistry()] : [])],
    metafile: reports,
  });
  if (reports && Object.keys(result.metafile.inputs).some((f) => f.endsWith('cli/commands/run.js') || f.endsWith('cli/registry.js'))) {
    console.error(`build: ${outfile} holds the whole CLI's registry or \`run\` (scripts/cli-bundle.mjs, reportsRegistry)`);
    process.exit(1);
  }
  // Nothing may be left that needs import() at run time (see builtinDynamicImports).
  if (/\bimport\(/.test(readFileSync(outfile, 'utf8'))) {
    console.error(`build: ${outfile} still holds an import(): a dynamic import of something the bundle does not contain`);
    process.exit(1);
  }
}
