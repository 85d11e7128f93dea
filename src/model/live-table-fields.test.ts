// The live table's fields that change in the middle of a read (grow(), widenSites(), a new high word) and V8's
// optimized code that reads them. A child process: the feedback and the code are the process's.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

// The child: a loop of inserts and removes that V8 optimizes with them inlined (sites below 255, the table's
// first site bits), then one insert whose site widens the entries and one of an address past 2^35 (a second
// high word), then the loop again. `--trace-deopt` prints each deoptimization (to stdout).
const CHILD = `
const { LiveTable } = await import(process.argv[1]);
const t = new LiveTable(1 << 10);
function churn(t, base, n, site) {
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const a = base + (i % 512) * 16;
    t.insert(a, 32, site, i);
    if (t.remove(a)) kept += t.removedSize;
  }
  return kept;
}
let sum = 0;
for (let r = 0; r < 4000; r++) sum += churn(t, 0x10000, 300, r % 200);
const early = (%GetOptimizationStatus(churn) & 16) !== 0;
console.log('LATE');
t.insert(0x900000, 64, 100000, 1);
t.insert(2 ** 40 + 64, 64, 7, 2);
for (let r = 0; r < 400; r++) sum += churn(t, 0x10000, 300, 7);
console.log(JSON.stringify({ early, sum: sum > 0, size: t.size }));
`;

test('the live table widening its sites does not deoptimize the code that inlined its inserts and removes', () => {
  // sizeMax, siteMax, widenFrom and the rest were stored once, by their initializers, until the first site past
  // the entries' bits: V8 took them for constant fields, and the replay's chain that read them (inlined into the
  // decoder's loop) was deoptimized ("code dependencies") when widenSites() first changed them.
  const url = pathToFileURL(join(import.meta.dirname, 'live-table.js')).href;
  const args = ['--allow-natives-syntax', '--no-concurrent-recompilation', '--max-inlined-bytecode-size-cumulative=2000', '--trace-deopt', '--input-type=module', '-e', CHILD, url];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const out = JSON.parse(lines.find((l) => l.startsWith('{"early"')) ?? 'null') as { early: boolean; sum: boolean; size: number };
  assert.ok(out.sum);
  assert.equal(out.size, 2);
  assert.ok(out.early, 'the loop was not optimized before the widening');
  const late = lines.slice(lines.indexOf('LATE'));
  const dependent = late.filter((l) => l.includes('reason: code dependencies') && /<SharedFunctionInfo (churn|insert|remove|put|take)>/.test(l));
  assert.deepEqual(dependent, [], 'code that read the table deoptimized for a field it depended on');
});
