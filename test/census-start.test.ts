// When the near-OOM census starts: not when the agent's service thread next gets a CPU. Its sampler is made
// to never fire in time here (a memory interval of an hour: a configuration only a test writes, memlens run
// allows 1 to 1000 ms), so the allocation path's own check of the cgroup's usage is all that can start the
// census, and the program is ended by a real OOM kill in a real child memory cgroup. Before that check, no
// run of this test had a census (the sampler was the only trigger); nothing here depends on the machine's
// speed (docs/census.md, "When the census starts").
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { finished } from './support/memlens-run.js';
import { label, REPO_ROOT, testPythons } from './support/pythons.js';
import { oomKillCount } from '../src/process/cgroup.js';
import { findAgent } from '../src/process/agent-files.js';
import { BOOTSTRAP_ENV, bootstrapArgs } from '../src/process/launch.js';
import { planMemoryLimit, releaseMemoryLimit } from '../src/process/memory-limit.js';
import { NODE_FLAGS } from '../src/util/node-flags.js';

const MEMLENS = join(REPO_ROOT, 'bin', 'memlens.js');
const PROGRAM = join(REPO_ROOT, 'examples', 'batch_oom.py');
const LIMIT = 150 * 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), 'memlens-census-start-'));
after(() => rmSync(work, { recursive: true, force: true }));

interface Parsed {
  readonly type: string;
  readonly stream?: number;
  readonly label?: string;
  readonly json?: string;
  readonly cgroup_usage?: number;
  readonly cgroup_limit?: number;
}

testPythons().forEach((py, i) => {
  test(`CPython ${label(py)}: the near-OOM census starts from the allocation path when the sampler never fires`, async () => {
    const plan = planMemoryLimit(LIMIT, `memlens-census-start-${process.pid}-${i}`);
    assert.equal(plan.kind, 'cgroup', 'this test needs a child memory cgroup (root, cgroup v2 or v1 memory)');
    const capture = join(work, `start-${i}.mlens`);
    let oomKills: number | undefined;
    let ended: { code: number | null; signal: NodeJS.Signals | null; stderr: string };
    try {
      const files = findAgent();
      const config = { run: 'script', agent: files.library, output: capture, overwrite: true, memory_interval_ms: 3_600_000 };
      const child = spawn(plan.wrapper[0]!, [...plan.wrapper.slice(1), py.python, ...bootstrapArgs(files, { kind: 'script', path: PROGRAM, args: [] })], {
        cwd: work,
        env: { ...process.env, [BOOTSTRAP_ENV]: JSON.stringify(config) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      ended = await finished(child);
      if (plan.kind === 'cgroup') oomKills = oomKillCount(plan.cgroup);
    } finally {
      await releaseMemoryLimit(plan);
    }
    assert.equal(ended.signal, 'SIGKILL', ended.stderr);
    assert.ok((oomKills ?? 0) >= 1, `the kernel's OOM killer ended it (oom_kill ${oomKills})`);

    const p = spawnSync(process.execPath, [...NODE_FLAGS, MEMLENS, 'parse', '--json', capture], { encoding: 'utf8', maxBuffer: 1 << 30 });
    assert.equal(p.status, 0, p.stderr);
    const records = p.stdout
      .split('\n')
      .filter((l) => l.includes('"type":"census"') || l.includes('"type":"snapshot"'))
      .map((l) => JSON.parse(l) as Parsed);
    // The sampler (the service stream's, 0) took its snapshots at the start only, all far below the census's
    // share (80 % of the limit): it cannot have asked for the census. The program's threads take snapshots too
    // (agent/src/snapshot.c), but those never decide a census.
    const snapshots = records.filter((r) => r.type === 'snapshot' && r.stream === 0);
    assert.ok(snapshots.length >= 1);
    for (const s of snapshots) assert.ok((s.cgroup_usage ?? 0) < 0.5 * LIMIT, `a snapshot at ${s.cgroup_usage} bytes`);
    const censuses = records.filter((r) => r.type === 'census' && r.label === 'near-oom');
    assert.equal(censuses.length, 2, 'the census, then the census with its paths, before the OOM kill');
    assert.ok(censuses[1]!.json?.includes('path_groups'));

    const c = spawnSync(process.execPath, [...NODE_FLAGS, MEMLENS, 'census', '--json', capture], { encoding: 'utf8', maxBuffer: 1 << 28 });
    assert.equal(c.status, 0, c.stderr);
    const census = JSON.parse(c.stdout) as { path_groups: { pattern: string | null; type: string; count: number }[] };
    // The program's chunks, under main's local `loaded`, each whole (docs/census.md: the program's roots first).
    const loaded = census.path_groups.find((g) => g.type === 'bytes' && /local loaded\[\*\]\[\*\]$/.test(g.pattern ?? ''));
    assert.ok((loaded?.count ?? 0) >= 10_000, JSON.stringify(census.path_groups.slice(0, 5)));
    assert.equal(loaded!.count % 10_000, 0);
  });
});
