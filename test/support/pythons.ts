// The CPython interpreters tests run against: every CPython >= 3.9 that scripts/setup-test-env.mjs found
// on the machine, each in a virtualenv with numpy.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export interface TestPython {
  readonly version: string;
  readonly minor: number;
  /** The virtualenv's python3. */
  readonly python: string;
  /** The interpreter the virtualenv was made from. */
  readonly base: string;
  readonly system: boolean;
}

let cached: TestPython[] | undefined;

export function testPythons(): TestPython[] {
  if (cached === undefined) {
    const file = join(repoRoot, '.cache', 'pythons.json');
    cached = JSON.parse(readFileSync(file, 'utf8')) as TestPython[];
    if (cached.length === 0) throw new Error(`${file} lists no Python: run node scripts/setup-test-env.mjs`);
  }
  return cached;
}
