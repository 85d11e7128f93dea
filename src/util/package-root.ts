// Where memlens's own files are: the package root that holds bin/, dist/viewer/ and agent/. Every path the
// CLI needs at run time starts here, so the same code runs from a git checkout, the npm package, and the
// single bundled script of the Python wheel (docs/python-packaging.md).

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Defined as true by esbuild when it bundles the CLI into the Python package's <root>/dist/memlens.cjs
// (scripts/build-wheel.mjs);
// undeclared (typeof: 'undefined') when this file runs as dist/src/util/package-root.js.
declare const __MEMLENS_BUNDLE__: boolean | undefined;
// Defined as true by esbuild when it bundles the CLI into <root>/dist/memlens.cjs for the npm package
// (scripts/build-cli.mjs; bin/memlens.js starts it).
declare const __MEMLENS_NPM_BUNDLE__: boolean | undefined;

const here = fileURLToPath(import.meta.url);

/** True when running as the bundled script of the Python package. */
export const BUNDLED: boolean = typeof __MEMLENS_BUNDLE__ !== 'undefined' && __MEMLENS_BUNDLE__;

const NPM_BUNDLE: boolean = typeof __MEMLENS_NPM_BUNDLE__ !== 'undefined' && __MEMLENS_NPM_BUNDLE__;

/** The package root: three levels above dist/src/util/, or one above the bundle's dist/. */
export const PACKAGE_ROOT: string = BUNDLED || NPM_BUNDLE ? join(dirname(here), '..') : join(dirname(here), '..', '..', '..');

/** The script that starts the CLI (for memlens's own child processes, run under node). */
export const CLI_SCRIPT: string = join(PACKAGE_ROOT, 'bin', 'memlens.js');

/** The directory of the browser bundles (the HTML report's viewer, the live page). */
export const VIEWER_DIR: string = join(PACKAGE_ROOT, 'dist', 'viewer');

/** What to tell someone whose installation lacks a file memlens ships. */
export const REINSTALL_HINT: string = BUNDLED ? 'Reinstall memlens (pip install --force-reinstall memlens).' : "Run 'npm install' in the memlens directory (it builds the agent and the viewer).";
