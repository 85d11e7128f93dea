// A thread's stream maps its 64 KiB table of address references (format 7, agent/src/encode.h) only once one of
// its blocks has more than ML_REFS_EARLY events: a quiet thread never pays for it. Measured by the agent's own
// count of the memory it mapped (AGENT_STATS), with 48 threads alive at once that made a few events each, against
// 48 that made thousands (the same code, so every other per-thread table is alike): the difference is the tables.
// Both captures then re-encode to the same bytes with the TypeScript writer, which has its table from the start:
// the references a stream writes before and after its table exists are the ones a table from the start gives.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decodeCapture } from '../../src/capture/decoder.js';
import { Collector, reencode } from '../support/collect.js';
import { tempDir } from '../support/memlens-run.js';
import { corePythons, label, REPO_ROOT } from '../support/pythons.js';

const tmp = tempDir('memlens-reftable-');
after(tmp.remove);

const LIBRARY = join(REPO_ROOT, 'agent', 'build', 'libmemlens_agent.so');
const THREADS = 48;
const TABLE = 4096 * 16; // ML_ADDR_REF_ENTRIES entries of 16 bytes
// The sink keeps up to 16 free blocks of 40 KiB mapped for reuse (sink.c's pool), which a run may grow while it is
// measured: at most 640 KiB, 13.3 KiB a thread with 48 threads, either way. Main's agent (a table per thread from its
// first event) gives a difference of 0 give or take that, this one 64 KiB give or take that.
const POOL = 16 * 40 * 1024;

// Tracks itself into OUT with Python's allocators traced; K threads do `events` rounds of an allocation and a free,
// then wait, all alive, while the agent writes two AGENT_STATS records (once a second), read back from OUT (blocks
// of the service stream, uncompressed: type, length, payload). Prints the agent's memory before the threads and
// with them. Bounded by records seen, not by time (a failure bound of 120 s only).
const PROGRAM = String.raw`import sys, threading, time, zlib

sys.path.insert(0, sys.argv[1])
import memlens_agent

library, out, rounds, k = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])


def varint(p, j):
    v = s = 0
    while True:
        b = p[j]
        j += 1
        v |= (b & 0x7F) << s
        s += 7
        if b < 0x80:
            return v, j


def agent_memory():
    data = open(out, "rb").read()
    found, i = [], 0
    while True:
        i = data.find(b"\xeb\x4d\x4c\x42", i)
        if i < 0 or i + 32 > len(data):
            return found
        h = data[i : i + 32]
        n = int.from_bytes(h[8:12], "little")
        end = i + 32 + n
        crc = zlib.crc32(data[i + 32 : end], zlib.crc32(h[20:32], zlib.crc32(h[4:16])))
        if h[4] != 0 or h[5] != 32 or end > len(data) or crc != int.from_bytes(h[16:20], "little"):
            i += 1
            continue
        if int.from_bytes(h[20:24], "little") == 0:
            p, j = data[i + 32 : end], 0
            while j < len(p):
                t = p[j]
                length, j = varint(p, j + 1)
                if t == 16:  # AGENT_STATS: time_ns, agent_memory_bytes, ...
                    found.append(varint(p, varint(p, j)[1])[0])
                j += length
        i = end


def after_two_more():
    seen = len(agent_memory())
    deadline = time.monotonic() + 120
    while len(agent_memory()) < seen + 2:
        if time.monotonic() > deadline:
            sys.exit("no AGENT_STATS record in 120 s")
        time.sleep(0.05)
    return agent_memory()[-1]


def work(ready, go):
    keep = None
    for i in range(rounds):
        keep = [i, i]  # an allocation, and the free of the list before
    del keep
    ready.wait()
    go.wait()


session = memlens_agent.AgentSession(library)
session.start(out, trace_python_allocators=True)
before = after_two_more()
ready, go = threading.Barrier(k + 1), threading.Event()
threads = [threading.Thread(target=work, args=(ready, go)) for _ in range(k)]
for t in threads:
    t.start()
ready.wait()
during = after_two_more()
go.set()
for t in threads:
    t.join()
session.stop()
print(before, during)
`;

function run(python: string, rounds: number, name: string): { perThread: number; capture: string } {
  const script = join(tmp.dir, 'ref_tables.py');
  writeFileSync(script, PROGRAM);
  const out = join(tmp.dir, `${name}.mlens`);
  const r = spawnSync(python, [script, join(REPO_ROOT, 'agent', 'python'), LIBRARY, out, String(rounds), String(THREADS)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [before, during] = r.stdout.trim().split(' ').map(Number) as [number, number];
  return { perThread: (during - before) / THREADS, capture: out };
}

function sameBytesAgain(path: string): void {
  const bytes = new Uint8Array(readFileSync(path));
  const c = new Collector();
  decodeCapture(bytes, c);
  assert.deepEqual(c.c.warnings, []);
  const again = reencode(c.c);
  assert.ok(Buffer.from(again).equals(Buffer.from(bytes)), `${path}: re-encoded with a table from the start, the same bytes`);
}

for (const py of corePythons()) {
  test(`quiet threads map no reference table, busy ones do, and both write a table's references (CPython ${label(py)})`, () => {
    const tag = `${py.version}${py.freeThreaded ? 't' : ''}`;
    const quiet = run(py.python, 5, `quiet-${tag}`);
    const busy = run(py.python, 5000, `busy-${tag}`);
    // What a busy thread maps beyond a quiet one's is its table (other tables alike: the same code, the same stacks).
    const extra = busy.perThread - quiet.perThread;
    assert.ok(
      extra > TABLE - POOL / THREADS - 4096 && extra < TABLE + POOL / THREADS + 4096,
      `a busy thread maps one table more than a quiet one (give or take the sink's pool): ${extra} bytes (quiet ${quiet.perThread}, busy ${busy.perThread} a thread)`,
    );
    sameBytesAgain(quiet.capture);
    sameBytesAgain(busy.capture);
  });
}
