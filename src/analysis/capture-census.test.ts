// The censuses a capture holds, as the reports read them (capture-census.ts uses completeCensuses).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { completeCensuses } from './census.js';

const census = (time: number, extra: Record<string, unknown> = {}): { json: string } => ({ json: JSON.stringify({ kind: 'census', time, ...extra }) });

test('a census written twice (at once, then with its paths) counts once, as its later part', () => {
  const first = census(100.5);
  const complete = census(100.5, { path_groups: [] });
  const later = census(130.25, { path_groups: [] });
  assert.deepEqual(completeCensuses([first, complete, later]), [complete, later]);
  // Only a first part (the process was killed during the search): it stands.
  assert.deepEqual(completeCensuses([later, first]), [later, first]);
  // Two censuses at different times, and records whose JSON cannot be read, are all kept.
  const bad = { json: '{not json' };
  assert.deepEqual(completeCensuses([bad, bad, census(1), census(2)]), [bad, bad, census(1), census(2)]);
  assert.deepEqual(completeCensuses([]), []);
});
