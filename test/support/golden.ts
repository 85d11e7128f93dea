// Golden files: output that a test compares, line by line, with a file under test/fixtures/. The one
// switch that rewrites them is UPDATE_GOLDEN=1 (for example `UPDATE_GOLDEN=1 npm test -- verdict-command`);
// then review the diff before committing it.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/fixtures/ in the source tree (this file runs as dist/test/support/golden.js). */
export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

/** Whether this run rewrites golden files instead of checking them. */
export const UPDATE_GOLDEN = process.env['UPDATE_GOLDEN'] === '1';

/** The first differing lines, with numbers, for a readable failure. */
export function lineDiff(expected: string, actual: string): string {
  const e = expected.split('\n');
  const a = actual.split('\n');
  const out: string[] = [];
  for (let i = 0; i < Math.max(e.length, a.length) && out.length < 12; i++) {
    if (e[i] !== a[i]) out.push(`line ${i + 1}:\n  - ${e[i] ?? '(none)'}\n  + ${a[i] ?? '(none)'}`);
  }
  return out.join('\n');
}

/** `actual` must equal the file at `path` (with UPDATE_GOLDEN=1: becomes it). */
export function checkGolden(path: string, actual: string): void {
  const name = basename(path);
  if (UPDATE_GOLDEN) {
    writeFileSync(path, actual);
    return;
  }
  assert.ok(existsSync(path), `${name} is missing: run the tests with UPDATE_GOLDEN=1`);
  const expected = readFileSync(path, 'utf8');
  if (expected !== actual) assert.fail(`${name} differs (UPDATE_GOLDEN=1 to accept):\n${lineDiff(expected, actual)}`);
}
