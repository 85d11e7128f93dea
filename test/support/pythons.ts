// The CPythons the tests run against: .cache/pythons.json, written by scripts/setup-test-env.mjs (npm test
// runs it first). Each has a virtualenv with numpy.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/test/support/). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface TestPython {
  readonly version: string;
  readonly minor: number;
  /** The interpreter the virtualenv was made from. */
  readonly base: string;
  /** The virtualenv's python3 (numpy installed). */
  readonly python: string;
  /** Debian's /usr/bin/python3 (libpython linked into the executable). */
  readonly system: boolean;
}

let cached: TestPython[] | undefined;

export function testPythons(): TestPython[] {
  if (cached !== undefined) return cached;
  const file = join(REPO_ROOT, '.cache', 'pythons.json');
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run 'node scripts/setup-test-env.mjs' (npm test does it) to create the test virtualenvs`);
  }
  const list = JSON.parse(readFileSync(file, 'utf8')) as TestPython[];
  cached = [...list].sort((a, b) => a.minor - b.minor || Number(a.system) - Number(b.system));
  return cached;
}

/** A short label for test names: "3.11.7" or "3.11.2 (system)". */
export function label(p: TestPython): string {
  return p.system ? `${p.version} (system)` : p.version;
}
