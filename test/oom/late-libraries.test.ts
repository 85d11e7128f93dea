// The verdict names the libraries loaded after the start, in "RSS the tracked heap does not explain": what a
// library maps while it loads (numpy's OpenBLAS's per-thread buffers) is usually not in the capture
// (docs/agent.md), so the user sees RSS the heap does not explain; the verdict says which libraries loaded,
// and between which snapshots. Here on real processes killed under a limit; the text beside the code in
// src/report/verdict-text.test.ts.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { memoryIo } from '../support/memory-io.js';
import { memlensRun, tempDir } from '../support/memlens-run.js';
import { corePythons, label, REPO_ROOT } from '../support/pythons.js';

const PROGRAM = readFileSync(join(REPO_ROOT, 'test', 'oom', 'programs', 'numpy_late_load.py'), 'utf8');
const tmp = tempDir('memlens-late-libraries-');
after(() => tmp.remove());
const MiB = 1024 * 1024;

interface LoadJson {
  readonly after_ns: number | null;
  readonly by_ns: number | null;
  readonly anon_rss_growth: number | null;
  readonly libraries: readonly { readonly path: string; readonly package: string | null; readonly seq: number; readonly bytes: number }[];
}

async function verdict(capture: string, json: boolean): Promise<string> {
  const io = memoryIo({ cwd: tmp.dir, env: { COLUMNS: '200' } });
  assert.equal(await main(['verdict', ...(json ? ['--json'] : []), capture], io), 0, io.err());
  return io.out();
}

const base = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

// An OOM kill per interpreter: the core ones (MEMLENS_TEST_PYTHONS=all: every one).
for (const py of corePythons()) {
  test(`CPython ${label(py)}: the verdict names numpy's OpenBLAS as loaded after the start, and when`, async () => {
    const capture = join(tmp.dir, `late-${label(py).replace(/\W+/g, '_')}.mlens`);
    const r = await memlensRun(
      { python: py.python, files: { 'numpy_late_load.py': PROGRAM }, program: ['numpy_late_load.py'], runArgs: ['--memory-limit', '128M'], output: capture.slice(tmp.dir.length + 1), timeoutMs: 120_000 },
      tmp.dir,
    );
    assert.doesNotMatch(r.stderr, /cannot create a memory cgroup/, 'this test needs a child memory cgroup (root, cgroup v2 or v1 memory)');
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    const v = JSON.parse(await verdict(capture, true)) as { ending: { oom_kill: string }; loaded_after_start?: readonly LoadJson[] };
    assert.equal(v.ending.oom_kill, 'yes');
    const loads = v.loaded_after_start ?? [];
    const libs = loads.flatMap((l) => l.libraries.map((x) => ({ ...x, load: l })));
    const blas = libs.find((x) => /openblas/i.test(base(x.path)));
    assert.ok(blas !== undefined, JSON.stringify(libs.map((x) => x.path)));
    assert.equal(blas.package, 'numpy');
    assert.ok(blas.bytes > MiB, `${blas.bytes} bytes`);
    // Placed between two snapshots (numpy is imported well after the first, and the process runs on after it).
    assert.ok(blas.load.after_ns !== null && blas.load.by_ns !== null && blas.load.after_ns < blas.load.by_ns, JSON.stringify(blas.load));
    assert.ok(blas.load.anon_rss_growth !== null);
    // numpy's extension module with it; the interpreter's own libraries were loaded before the start.
    assert.ok(libs.some((x) => base(x.path).startsWith('_multiarray_umath.') && x.package === 'numpy'));
    assert.ok(!libs.some((x) => /^(libc\.so|ld-linux|libpython|libmemlens_agent)/.test(base(x.path))), JSON.stringify(libs.map((x) => x.path)));
    // The text, in "RSS the tracked heap does not explain".
    const text = (await verdict(capture, false)).replace(/\s+/g, ' ');
    const section = text.slice(text.indexOf('RSS the tracked heap does not explain'), text.indexOf('Garbage collector'));
    const name = base(blas.path).replace(/[.+]/g, '\\$&');
    assert.match(section, /Loaded after the start: between /);
    // Its row: the moment, then the names of what loaded then (its package after a run of names).
    assert.match(section, new RegExp(`between \\d+\\.\\d{3} s and \\d+\\.\\d{3} s: ((?!between ).)*${name}[^;]* \\(numpy\\)`));
    assert.match(section, /Libraries can map and allocate memory while they load, before memlens sees their calls/);
  });
}
