// memlens must not change the memory behaviour it measures. A function loads a JSON document (a few
// hundred thousand dicts and lists, ~1,100 collections of the GC) and returns; afterwards the process
// should keep what it kept without memlens. Before the fix, the agent's gc callback looked up gc.isenabled
// and friends by name on every collection; from CPython 3.10 on the type attribute cache keeps the last
// name string of each slot alive, so ~450 strings stayed behind, spread over pymalloc's pools, and kept
// ~130 MiB of freed arenas resident on 3.10 and 3.11 (agent/src/pygc.c says why).
//
// Measured on this machine, 15.6 MB document, growth across the load (after − before, gc.collect() before
// each reading), without memlens / with memlens default / with --trace-python-allocators:
//   before the fix  3.10.13  RSS +4.0 / +141 / +144 MiB   blocks +11 / +489 / +450
//                   3.11.7   RSS +3.8 / +130 / +128 MiB   blocks  +6 / +462 / +471
//                   3.9, 3.12, 3.13: RSS within 1 MiB, blocks +6..+12 against +6..+9
//   after the fix   every version: RSS +1.9..+4.4 MiB against +3.7..+4.2 MiB, blocks +5..+8 against +4..+11
// So the bounds: blocks kept by the load may exceed the plain run's by at most BLOCK_SLACK (measured
// differences ≤ 3; one object left per generation-1 collection would add ~110), and RSS growth by at most
// RSS_SLACK_KIB (measured excess ≤ 0.7 MiB, the agent's own tables growing; the bug added > 120 MiB).
// Absolute figures differ by what the bootstrap imported before the program (ctypes, sysconfig, json:
// ~8–11 k blocks, ~2–3 MiB), which is why growth is compared.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { memlensRun, tempDir } from '../support/memlens-run.js';
import { label, testPythons } from '../support/pythons.js';

const BLOCK_SLACK = 40;
const RSS_SLACK_KIB = 8 * 1024;

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

const RECORDS = 200_000;

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

  for (const py of testPythons()) {
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
        const figures = `memlens run ${mode.join(' ') || '(default)'}: RSS ${under.rss.join(' → ')} KiB, blocks ${under.blocks.join(' → ')}; ` +
          `without: RSS ${plain.rss.join(' → ')} KiB, blocks ${plain.blocks.join(' → ')}`;
        assert.ok(g1.blocks <= g0.blocks + BLOCK_SLACK, `the load left ${g1.blocks - g0.blocks} more blocks alive under memlens. ${figures}`);
        assert.ok(g1.rss <= g0.rss + RSS_SLACK_KIB, `RSS grew ${g1.rss - g0.rss} KiB more under memlens. ${figures}`);
      }
    });
  }
});
