// memlens must not change the memory behaviour it measures. A function loads a JSON document (100,000
// records, 7.6 MB: 400,000 dicts and lists, 430 collections of the GC on 3.11) and returns; afterwards the
// process should keep what it kept without memlens. Before the fix, the agent's gc callback looked up
// gc.isenabled and friends by name on every collection; from CPython 3.10 on the type attribute cache
// keeps the last name string of each slot alive, so ~350 strings stayed behind, nearly one per
// collection and one per pymalloc pool, and kept ~70 MiB of freed arenas resident on 3.10 and 3.11
// (agent/src/pygc.c says why).
//
// Measured on this machine, growth across the load (after − before, gc.collect() before each reading),
// without memlens / with memlens default / with --trace-python-allocators:
//   before the fix  3.10.13  RSS +3.1 / +76.5 / +77.5 MiB   blocks +11 / +350 / +343
//                   3.11.7   RSS +2.7 / +68.1 / +68.1 MiB   blocks  +6 / +354 / +347
//                   3.11.2   RSS +2.8 / +68.2 / +68.2 MiB   blocks  +6 / +384 / +355
//                   3.9, 3.12, 3.13: RSS within 1 MiB, blocks +6..+12 against +6..+9
//   after the fix   every version: RSS excess at most +0.6 MiB (3.13), blocks +6..+8 against +6..+11
// (a 200,000-record document, twice the work, gave +130..+144 MiB and +444..+489 blocks before the fix,
// the same closeness after it). So the bounds: blocks kept by the load may exceed the plain run's by at
// most BLOCK_SLACK (measured differences ≤ 3; one object left per generation-1 collection would add 35),
// and RSS growth by at most RSS_SLACK_KIB (the agent's own tables grow a little; the bug added > 65 MiB).
// Absolute figures differ by what the bootstrap imported before the program (ctypes, sysconfig, json:
// ~8–11 k blocks, ~2–3 MiB), which is why growth is compared.
// The capture must not report what memlens made either: "live at the end" (default mode) was 68–78 MiB
// of pinned arenas on 3.10 and 3.11 before the fix, 0.5–2.0 MiB on every version after it (with
// --trace-python-allocators arenas are not recorded and it is ~85 KiB either way): at most LEAK_SLACK.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { loadModel } from '../../src/cli/load-model.js';
import { memoryIo } from '../support/memory-io.js';
import { memlensRun, tempDir } from '../support/memlens-run.js';
import { isCorePython, label, testPythons } from '../support/pythons.js';

const BLOCK_SLACK = 20;
const RSS_SLACK_KIB = 8 * 1024;
const LEAK_SLACK = 8 * 1024 * 1024;

const PROGRAM = `import gc
import json
import os
import sys


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def load(path):
    with open(path) as f:
        data = json.load(f)
    return len(data)


gc.collect()
before = (rss_kib(), sys.getallocatedblocks())
n = load(sys.argv[1])
gc.collect()
after = (rss_kib(), sys.getallocatedblocks())
print(json.dumps({"records": n, "rss": [before[0], after[0]], "blocks": [before[1], after[1]]}))
`;

const RECORDS = 100_000;

interface Kept {
  readonly records: number;
  readonly rss: [number, number];
  readonly blocks: [number, number];
}

function parseKept(stdout: string, what: string): Kept {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as Kept;
  } catch {
    throw new Error(`${what} printed no result: ${JSON.stringify(stdout)}`);
  }
}

const grow = (k: Kept): { rss: number; blocks: number } => ({ rss: k.rss[1] - k.rss[0], blocks: k.blocks[1] - k.blocks[0] });

describe('memory a program keeps after a freed workload, with and without memlens', () => {
  const tmp = tempDir();
  after(tmp.remove);
  before(() => {
    const doc = [];
    for (let i = 0; i < RECORDS; i++) doc.push({ id: i, name: `item${i}`, tags: [`a${i % 7}`, 'b'], v: i * 0.5, d: { x: i } });
    writeFileSync(join(tmp.dir, 'doc.json'), JSON.stringify(doc));
    writeFileSync(join(tmp.dir, 'load.py'), PROGRAM);
  });

  // The representative CPythons, and 3.10 and 3.11: the only ones where the bug pinned memory (see the
  // figures above); the representatives alone (3.9, the newest, the free-threaded one) would never see it
  // come back. MEMLENS_TEST_PYTHONS=all runs every one (measured passing on all nine here).
  for (const py of testPythons().filter((p) => isCorePython(p) || (!p.freeThreaded && (p.minor === 10 || p.minor === 11)))) {
    test(`CPython ${label(py)}: the same blocks and RSS kept as without memlens`, async () => {
      const plainOut = await promisify(execFile)(py.python, ['load.py', 'doc.json'], { cwd: tmp.dir, maxBuffer: 1 << 20 });
      const plain = parseKept(plainOut.stdout, 'python3 load.py');
      assert.equal(plain.records, RECORDS);
      for (const mode of [[], ['--trace-python-allocators']]) {
        const r = await memlensRun({ python: py.python, program: ['load.py', 'doc.json'], runArgs: ['-f', ...mode], output: 'kept.mlens', timeoutMs: 240_000 }, tmp.dir);
        assert.equal(r.code, 0, r.stderr);
        const under = parseKept(r.stdout, `memlens run ${mode.join(' ')} load.py`);
        assert.equal(under.records, RECORDS);
        const g0 = grow(plain);
        const g1 = grow(under);
        const figures =
          `memlens run ${mode.join(' ') || '(default)'}: RSS ${under.rss.join(' → ')} KiB, blocks ${under.blocks.join(' → ')}; ` +
          `without: RSS ${plain.rss.join(' → ')} KiB, blocks ${plain.blocks.join(' → ')}`;
        assert.ok(g1.blocks <= g0.blocks + BLOCK_SLACK, `the load left ${g1.blocks - g0.blocks} more blocks alive under memlens. ${figures}`);
        assert.ok(g1.rss <= g0.rss + RSS_SLACK_KIB, `RSS grew ${g1.rss - g0.rss} KiB more under memlens. ${figures}`);
        const model = await loadModel(memoryIo(), r.capture);
        assert.ok(model.endHeap <= LEAK_SLACK, `the capture says ${model.endHeap} bytes were live at the end. ${figures}`);
      }
    });
  }
});
