// Each finding on a real program written to show its pattern, and none on a program that allocates and
// frees sensibly (test/oom/programs/), on the oldest and the newest CPython installed.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { memoryIo } from '../support/memory-io.js';
import { lineOf, memlensRun, tempDir } from '../support/memlens-run.js';
import { bytearraySize, label, objectSlack, REPO_ROOT, type TestPython, testPythons } from '../support/pythons.js';

interface Frame {
  function: string;
  file: string;
  line: number;
}
interface Finding {
  kind: string;
  evidence: string[];
  items?: { maker?: Frame; line?: Frame; bytes?: number; growths?: number; max_bytes?: number; live_at_end_bytes?: number }[];
  stacks?: { bytes: number; stack: Frame[] }[];
  entries?: { frame: Frame | null; threads: number }[];
  forks?: number;
  started_after_another_ended?: number;
}
interface VerdictJson {
  findings: Finding[];
  gc: { bytes_freed: number | null; collections: number };
}

const tmp = tempDir('memlens-findings-');
after(() => tmp.remove());

function source(name: string): string {
  return readFileSync(join(REPO_ROOT, 'test', 'oom', 'programs', `${name}.py`), 'utf8');
}

async function verdictOf(python: string, name: string): Promise<VerdictJson> {
  const r = await memlensRun({ python, files: { [`${name}.py`]: source(name) }, program: [`${name}.py`], output: `${name}-${label(py_(python))}.mlens`, timeoutMs: 60_000 }, tmp.dir);
  assert.equal(r.code, 0, `${name}.py: ${r.stderr}`);
  const io = memoryIo({ cwd: tmp.dir });
  assert.equal(await main(['verdict', '--json', r.capture], io), 0, io.err());
  return JSON.parse(io.out()) as VerdictJson;
}

function py_(python: string): TestPython {
  return all.find((p) => p.python === python) as TestPython;
}

function only(v: VerdictJson, kind: string): Finding {
  assert.deepEqual(
    v.findings.map((f) => f.kind),
    [kind],
  );
  return v.findings[0] as Finding;
}

const all = testPythons();
for (const py of [all[0]!, all[all.length - 1]!]) {
  describe(`findings on CPython ${label(py)}`, () => {
    test('large objects kept after the function that made them returned', async () => {
      const f = only(await verdictOf(py.python, 'kept_large'), 'large-objects-kept');
      const item = f.items?.[0];
      assert.deepEqual([item?.maker?.function, item?.maker?.line], ['load_table', lineOf(source('kept_large'), 'KEPT-LINE')]);
      const size = bytearraySize(py, 8 * 1024 * 1024);
      assert.ok((item?.live_at_end_bytes ?? 0) >= 4 * size && (item?.live_at_end_bytes ?? 0) <= 4 * size + objectSlack(py, 4), `${item?.live_at_end_bytes}`);
    });

    test('a thread per task', async () => {
      const f = only(await verdictOf(py.python, 'thread_churn'), 'thread-churn');
      assert.ok((f.started_after_another_ended ?? 0) >= 30);
      assert.deepEqual([f.entries?.[0]?.frame?.function, f.entries?.[0]?.threads], ['task', 40]);
    });

    test('a process per task', async () => {
      assert.equal(only(await verdictOf(py.python, 'fork_churn'), 'process-churn').forks, 20);
    });

    test('a list grown by appends', async () => {
      const item = only(await verdictOf(py.python, 'realloc_growth'), 'collection-growth').items?.[0];
      assert.deepEqual([item?.line?.function, item?.line?.line], ['build', lineOf(source('realloc_growth'), 'GROWTH-LINE')]);
      assert.ok((item?.growths ?? 0) >= 40 && (item?.max_bytes ?? 0) >= 3 * 1024 * 1024, JSON.stringify(item));
    });

    test('cycles holding 1 MiB buffers: the cycle finding and the bytes the collector freed', async () => {
      const v = await verdictOf(py.python, 'gc_cycles');
      const f = only(v, 'gc-cycles');
      // 40 buffers of 1 MiB, every one freed by a collection (automatic ones and the final gc.collect()).
      assert.ok((v.gc.bytes_freed ?? 0) >= 40 * 1024 * 1024, `freed ${v.gc.bytes_freed}`);
      assert.ok(v.gc.collections >= 2);
      const top = f.stacks?.[0]?.stack.at(-1);
      // Qualified names (Node.__init__) come with 3.11's co_qualname; before, the name alone.
      assert.match(top?.function ?? '', /^(Node\.)?__init__$/);
      assert.equal(top?.line, lineOf(source('gc_cycles'), 'CYCLE-BUF'));
    });

    test('a sensible program: no finding', async () => {
      assert.deepEqual((await verdictOf(py.python, 'clean')).findings, []);
    });
  });
}
