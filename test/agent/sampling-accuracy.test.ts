// The sampled mode's accuracy floor (docs/sampling.md, "What a sampled number means"): with the exact mode
// as ground truth, over 2,000 seeded runs at the default rate (512 KiB), the mean estimate of every site
// holding at least 8 MiB (allocated, and in use at the end) is within 2 % of the truth, and the spread is
// no wider than sampling theory gives: relative standard deviation at most 1.2 × √(R/B).
//
// Why 2,000 runs: for a site of 8 MiB at 512 KiB one run's estimate has a relative standard deviation of
// 25 %, so the mean of n runs has 25 %/√n; at n = 100 that is 2.5 %, and "within 2 %" would be a coin toss
// for an unbiased estimator. At 2,000 it is 0.56 %, so 2 % is 3.6 standard errors: a failure means a bias.
//
// A run is one session of the agent (memlens_start … memlens_stop) around the same known allocations, in
// one process, seeded 1 … 2,000 (accuracy_driver.py); the allocations are made by a small C library called
// through ctypes (accuracy_helper.c), so that each run costs milliseconds. The sites: blocks far below the
// rate (512 B), below it (32 KiB), a mix below, near and above it (1 KiB to 3 MiB), always recorded
// (8 MiB), and one of 1 MiB that the floor does not cover.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SeqOrderer } from '../../src/capture/order.js';
import { readCaptureFile } from '../../src/cli/capture-file.js';
import { ModelBuilder } from '../../src/model/builder.js';
import { DEFAULT_FRAME_FILTER } from '../../src/model/frames.js';
import { NO_NATIVE_NODE, type SiteId } from '../../src/model/ids.js';
import { lineTableResolver } from '../../src/model/lines.js';
import { tempDir } from '../support/memlens-run.js';
import { REPO_ROOT, testPythons } from '../support/pythons.js';

const RATE = 512 * 1024;
const RUNS = 2000;
const MiB = 1024 * 1024;
const SRC = join(REPO_ROOT, 'test', 'agent', 'sampling');

interface SiteTotals {
  allocBytes: number;
  allocCount: number;
  liveBytes: number;
  liveCount: number;
}

/** Per site, by the name of the innermost Python function (site_small, …): totals and live at the end. */
async function perSite(path: string): Promise<Map<string, SiteTotals>> {
  const builder = new ModelBuilder({ lineResolver: lineTableResolver() });
  const orderer = new SeqOrderer(builder);
  await readCaptureFile(path, orderer);
  orderer.end();
  const m = builder.finish();
  const out = new Map<string, SiteTotals>();
  const c = m.sites.columns;
  for (let s = 0 as SiteId; s < m.sites.size; s++) {
    const frames = m.frames.stack(m.sites.pyStack(s), NO_NATIVE_NODE, DEFAULT_FRAME_FILTER);
    const last = frames[frames.length - 1];
    const name = last !== undefined ? m.frames.frame(last).function : '<none>';
    let t = out.get(name);
    if (t === undefined) {
      t = { allocBytes: 0, allocCount: 0, liveBytes: 0, liveCount: 0 };
      out.set(name, t);
    }
    t.allocBytes += c.totalBytes.array[s] as number;
    t.allocCount += c.totalCount.array[s] as number;
    t.liveBytes += c.liveBytes.array[s] as number;
    t.liveCount += c.liveCount.array[s] as number;
  }
  return out;
}

function tr(truth: Map<string, SiteTotals>, name: string): SiteTotals {
  const t = truth.get(name);
  assert.ok(t !== undefined, `the exact capture has no ${name}`);
  return t;
}

function meanAndRsd(xs: readonly number[], truth: number): { meanError: number; rsd: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return { meanError: mean / truth - 1, rsd: Math.sqrt(variance) / truth };
}

const work = tempDir('memlens-sampling-accuracy-');
after(() => work.remove());

test(`sampled estimates over ${RUNS} seeded runs: every site of 8 MiB or more within 2 % on average, spread within 1.2 × √(R/B)`, async (t) => {
  const helper = join(work.dir, 'accuracy_helper.so');
  const cc = spawnSync(process.env['CC'] ?? 'cc', ['-O2', '-shared', '-fPIC', '-o', helper, join(SRC, 'accuracy_helper.c')], { encoding: 'utf8' });
  assert.equal(cc.status, 0, cc.stderr);
  const python = (testPythons()[0] as { python: string }).python;
  const agent = join(REPO_ROOT, 'agent', 'build', 'libmemlens_agent.so');
  const captures = join(work.dir, 'captures');
  spawnSync('mkdir', ['-p', captures]);
  const r = spawnSync(python, [join(SRC, 'accuracy_driver.py'), agent, helper, join(REPO_ROOT, 'agent', 'python'), captures, String(RATE), '1', String(RUNS)], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  assert.equal(r.status, 0, `driver: ${r.stderr}`);

  const truth = await perSite(join(captures, 'exact.mlens'));
  // The ground truth is what the program did: the exact mode sees every block (and the array of kept ones).
  assert.equal(tr(truth, 'site_small').allocBytes, 32768 * 512 + 32768 * 8);
  assert.equal(tr(truth, 'site_small').liveBytes, 16384 * 512 + 32768 * 8);
  assert.equal(tr(truth, 'site_large').allocBytes, 8 * 8 * MiB + 8 * 8);

  const estimates = new Map<string, SiteTotals[]>();
  const files = readdirSync(captures).filter((f) => f.startsWith('seed-'));
  assert.equal(files.length, RUNS);
  for (const f of files) {
    const est = await perSite(join(captures, f));
    for (const name of truth.keys()) {
      let list = estimates.get(name);
      if (list === undefined) estimates.set(name, (list = []));
      list.push(est.get(name) ?? { allocBytes: 0, allocCount: 0, liveBytes: 0, liveCount: 0 });
    }
  }

  const rows: string[] = [];
  let checked = 0;
  for (const [name, tr] of truth) {
    const list = estimates.get(name) as SiteTotals[];
    for (const [what, key] of [
      ['allocated', 'allocBytes'],
      ['in use', 'liveBytes'],
    ] as const) {
      const b = tr[key];
      const { meanError, rsd } = meanAndRsd(
        list.map((e) => e[key]),
        b,
      );
      const bound = 1.2 * Math.sqrt(RATE / b);
      rows.push(
        `${name.padEnd(12)} ${what.padEnd(9)} ${(b / MiB).toFixed(2).padStart(7)} MiB  mean ${(100 * meanError).toFixed(2).padStart(6)} %  rsd ${(100 * rsd).toFixed(1).padStart(5)} %  √(R/B) ${(100 * Math.sqrt(RATE / b)).toFixed(1).padStart(5)} %`,
      );
      if (b < 8 * MiB) continue; // the floor covers sites of 8 MiB or more
      checked++;
      assert.ok(Math.abs(meanError) <= 0.02, `${name} ${what}: the mean estimate is ${(100 * meanError).toFixed(2)} % off the truth (${b} bytes)`);
      assert.ok(rsd <= bound, `${name} ${what}: relative standard deviation ${(100 * rsd).toFixed(1)} % is above 1.2 × √(R/B) = ${(100 * bound).toFixed(1)} %`);
    }
  }
  t.diagnostic(`rate ${RATE} bytes, ${RUNS} runs\n${rows.join('\n')}`);
  assert.equal(checked, 8, 'four sites of 8 MiB or more, allocated and in use');
  // Allocations of at least 4 × R are always recorded (and mappings): that site is exact in every run.
  for (const e of estimates.get('site_large') as SiteTotals[]) assert.deepEqual([e.allocBytes, e.liveBytes], [tr(truth, 'site_large').allocBytes, tr(truth, 'site_large').liveBytes]);
});
