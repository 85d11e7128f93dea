// The reports' V8 flags, each in a fresh node process (flags are process-wide, and the test runner's young
// generation has grown already): they hold the young generation at its first size, and a code cache made
// once they are set back is one the next process takes (one made while they are set, it refuses).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const flagsModule = new URL('./report-flags.js', import.meta.url).href;

function node(program: string): string {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

// Objects that live through a few scavenges (a ring of 200 000, replaced one at a time), as a report's
// replay makes them; the largest size of V8's new space seen, in MiB. Bounded by work, not by time.
const youngGeneration = (hold: boolean): number =>
  Number(
    node(`
      import { getHeapSpaceStatistics } from 'node:v8';
      import { useReportFlags } from ${JSON.stringify(flagsModule)};
      if (${hold}) useReportFlags();
      const size = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
      let max = size();
      const ring = new Array(200000);
      for (let i = 0; i < 3000000; i++) {
        ring[i % ring.length] = { i, a: [i] };
        if (i % 10000 === 0) max = Math.max(max, size());
      }
      console.log(max / 1048576);
    `),
  );

test('the reports’ flags keep the young generation at 2 MiB where it grows past it otherwise', () => {
  const grown = youngGeneration(false);
  const held = youngGeneration(true);
  assert.ok(grown > 2, `without the flags: ${grown} MiB`);
  assert.ok(held <= 2 && held > 0, `with the flags: ${held} MiB`);
});

// What V8 makes while the flags are set it ties to them: a fresh process (V8's default flags, as the CLI's
// next start) refuses it. The same process compiling with a cache does not show it (V8 checks a cache
// there against the flags it started with).
const cacheMadeBy = (restore: boolean): boolean => {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-report-flags-'));
  try {
    const file = join(dir, 'cache');
    node(`
      import { writeFileSync } from 'node:fs';
      import { Script } from 'node:vm';
      import { restoreReportFlags, useReportFlags } from ${JSON.stringify(flagsModule)};
      useReportFlags();
      const script = new Script(${JSON.stringify(SOURCE)});
      script.runInThisContext();
      if (${restore}) restoreReportFlags();
      writeFileSync(${JSON.stringify(file)}, script.createCachedData());
    `);
    const rejected = node(`
      import { readFileSync } from 'node:fs';
      import { Script } from 'node:vm';
      console.log(new Script(${JSON.stringify(SOURCE)}, { cachedData: readFileSync(${JSON.stringify(file)}) }).cachedDataRejected);
    `);
    return rejected === 'false';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

const SOURCE = 'function f(a) { return a + 1; } f(1);';

test('a code cache made after the flags are set back is taken by the next process; one made while they are set is not', () => {
  assert.equal(cacheMadeBy(true), true);
  assert.equal(cacheMadeBy(false), false);
});
