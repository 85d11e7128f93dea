// The agent's options and off-the-hot-path records: --trace-python-allocators (pymalloc, not counted
// twice), --native (native stacks that symbolize through IMAGE records), GC and GC_STATE, snapshots at
// the memory interval, IMAGE/IMAGE_UNLOAD for libraries loaded and unloaded while tracking, and dlopen by
// bare name through the caller's RUNPATH.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Allocator, OPTION_GC_START } from '../../src/capture/format.js';
import type { ImageRecord } from '../../src/capture/records.js';
import { bytesAt, Oracle } from '../support/agent-oracle.js';
import { bootstrapRun, lineOf, memlensRun, tempDir } from '../support/memlens-run.js';
import { bytearraySize, corePythons, label, REPO_ROOT } from '../support/pythons.js';

const PYALLOC = `KEEP = []


def small():
    KEEP.extend(str(i) * 3 for i in range(10000))  # SMALL


def big():
    KEEP.append(bytearray(3_000_000))  # BIG


small()
big()
`;

const NATIVE = `import zlib
KEEP = [zlib.compressobj(9)]  # COMPRESSOBJ
KEEP.append(bytearray(2_000_000))  # BYTEARRAY
`;

const NATIVE_MANY = `import zlib
KEEP = []


def a(i):
    KEEP.append(bytearray(100_000 + i))


def b(i):
    KEEP.append(zlib.compress(bytes(300_000 + 4096 * i), 1))


for i in range(40):
    a(i)
    b(i)
`;

const GC = `import gc


class Node:
    def __init__(self):
        self.me = self


gc.collect()
for _ in range(5000):
    Node()
gc.collect()  # COLLECT
gc.disable()
gc.set_threshold(1234, 11, 12)
gc.freeze()
gc.enable()
`;

const SLEEP = `import time
time.sleep(0.6)
`;

const LOADS = `import ctypes, _ctypes
lib = ctypes.CDLL("libutil.so.1")
lib.openpty  # a dlsym: new objects are patched (and get their IMAGE) on the first one
_ctypes.dlclose(lib._handle)
`;

function imageOf(images: readonly ImageRecord[], ip: number): ImageRecord | undefined {
  return images.find((im) => im.segments.some((s) => (s.prot & 4) !== 0 && ip >= im.loadBias + s.vaddr && ip < im.loadBias + s.vaddr + s.memsz));
}

/** Every allocation's native stack as "image+offset" frames (addresses move between runs, offsets do not), by size. */
function nativeStacksBySize(o: Oracle): Map<number, string[][]> {
  const images = o.records('image');
  const frames = new Map<string, { parent: number; ip: number }>();
  const perStream = new Map<number, number>();
  for (const m of o.metas) {
    if (m.type === 'native-frame') {
      const id = (perStream.get(m.stream) ?? 0) + 1;
      perStream.set(m.stream, id);
      frames.set(`${m.stream}/${id}`, { parent: m.parent, ip: m.ip });
    }
  }
  const out = new Map<number, string[][]>();
  for (const a of o.allocs) {
    if (a.allocator === (Allocator.Mmap as number)) continue;
    const stack: string[] = [];
    for (let id = a.nativeStack; id !== 0;) {
      const f = frames.get(`${a.stream}/${id}`)!;
      const im = imageOf(images, f.ip);
      stack.push(im === undefined ? '?' : `${im.path.split('/').pop()}+${(f.ip - im.loadBias).toString(16)}`);
      id = f.parent;
    }
    const list = out.get(a.size) ?? [];
    list.push(stack);
    out.set(a.size, list);
  }
  return out;
}

for (const py of corePythons()) {
  describe(`agent options under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);

    test('--trace-python-allocators: pymalloc events, and the malloc underneath is not counted twice', async () => {
      const r = await memlensRun({ python: py.python, files: { 'py.py': PYALLOC }, program: ['py.py'], output: 'py.mlens', runArgs: ['--trace-python-allocators'] }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      assert.equal(o.header?.options, 2 | OPTION_GC_START);
      const py_ = o.liveAtEnd({ domain: 'pymalloc' });
      const smallLine = `py.py:${lineOf(PYALLOC, '# SMALL')}`;
      const smallCount = o.allocs.filter((a) => a.domain === 'pymalloc' && o.leaf(a)?.line === lineOf(PYALLOC, '# SMALL')).length;
      assert.ok(smallCount >= 10000, `${smallCount} small objects`);
      assert.ok(bytesAt(py_, smallLine) >= 10000 * 40, `${bytesAt(py_, smallLine)} bytes of small strings`);
      const bigLine = `py.py:${lineOf(PYALLOC, '# BIG')}`;
      const big = bytesAt(py_, bigLine);
      assert.ok(big >= bytearraySize(py, 3_000_000) && big < bytearraySize(py, 3_000_000) + 256, `the bytearray and its buffer are Python allocations: ${big}`);
      assert.equal(bytesAt(o.liveAtEnd({ domain: 'native' }), bigLine), 0, 'and not a malloc as well');
    });

    test('--native: native stacks that symbolize through IMAGE records, none in the agent', async () => {
      const r = await memlensRun({ python: py.python, files: { 'native.py': NATIVE }, program: ['native.py'], output: 'native.mlens', runArgs: ['--native'] }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      // A free-threaded build's mimalloc domains are traced in every mode (bit 2); GC_START records (32) always.
      assert.equal(o.header?.options, (py.freeThreaded ? 3 : 1) | OPTION_GC_START);
      const images = o.records('image');
      const frames = new Map<number, { parent: number; ip: number }>();
      const perStream = new Map<number, number>();
      for (const m of o.metas) {
        if (m.type === 'native-frame') {
          const id = (perStream.get(m.stream) ?? 0) + 1;
          perStream.set(m.stream, id);
          frames.set(m.stream * 1e7 + id, { parent: m.parent, ip: m.ip });
        }
      }
      const ba = o.allocs.filter((a) => a.size === bytearraySize(py, 2_000_000));
      assert.equal(ba.length, 1);
      const a = ba[0]!;
      assert.ok(a.nativeStack > 0);
      const paths: string[] = [];
      for (let id = a.nativeStack; id !== 0;) {
        const f = frames.get(a.stream * 1e7 + id);
        assert.ok(f !== undefined, `native node ${id} is defined`);
        const im = imageOf(images, f.ip);
        assert.ok(im !== undefined, `ip 0x${f.ip.toString(16)} is inside an IMAGE`);
        paths.push(im.path);
        id = f.parent;
      }
      assert.ok(paths.length >= 3, paths.join(' '));
      assert.ok(!paths.some((p) => p.includes('libmemlens_agent')), 'the agent leaves its own frames out');
      assert.ok(
        paths.some((p) => /python|libpython/.test(p)),
        paths.join(' '),
      );
      assert.ok(
        paths.some((p) => p.includes('libc.so')),
        'main() in libc at the root',
      );
    });

    test('--native: the caching unwinder gives the stacks backtrace() gives', async () => {
      const target = { kind: 'script' as const, path: 'native.py', args: [] };
      const fast = await bootstrapRun({ python: py.python, files: { 'native.py': NATIVE_MANY }, target, config: { native: true }, output: 'fast.mlens' }, tmp.dir);
      const slow = await bootstrapRun({ python: py.python, target, config: { native: true, native_unwinder: 'backtrace' }, output: 'slow.mlens' }, tmp.dir);
      assert.equal(fast.code, 0, fast.stderr);
      assert.equal(slow.code, 0, slow.stderr);
      const a = nativeStacksBySize(await Oracle.load(fast.capture));
      const b = nativeStacksBySize(await Oracle.load(slow.capture));
      let compared = 0;
      for (const [size, stacks] of a) {
        const other = b.get(size);
        // Sizes the program makes once in each run are the same allocation in both. Smaller sizes and
        // pymalloc's arenas (mmap) are made by the interpreter at moments that differ between runs.
        if (size < 100_000 || stacks.length !== 1 || other?.length !== 1) continue;
        assert.deepEqual(stacks[0], other[0], `the native stack of the ${size}-byte allocation`);
        compared++;
      }
      assert.ok(compared >= 40, `${compared} allocations compared`);
      assert.ok((a.get(bytearraySize(py, 100_000))?.[0]?.length ?? 0) >= 5);
    });

    test('--native: allocations inside pthread_getattr_np (which holds a lock of glibc) are recorded without a deadlock', async () => {
      // pthread_getattr_np reallocs while it holds the thread's lock: the unwinder must not call it back.
      const prog = `import ctypes, threading
libc = ctypes.CDLL(None)
libc.pthread_self.restype = ctypes.c_ulong
def f():
    attr = ctypes.create_string_buffer(128)
    for _ in range(3):
        assert libc.pthread_getattr_np(ctypes.c_ulong(libc.pthread_self()), attr) == 0
        libc.pthread_attr_destroy(attr)
t = threading.Thread(target=f)
t.start()
t.join()
f()
print("ok")
`;
      const r = await memlensRun({ python: py.python, files: { 'attr.py': prog }, program: ['attr.py'], output: 'attr.mlens', runArgs: ['--native'], timeoutMs: 30000 }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.stdout, 'ok\n');
      assert.equal(r.code, 0);
    });

    test('GC records and GC_STATE changes', async () => {
      const r = await memlensRun({ python: py.python, files: { 'gc_.py': GC }, program: ['gc_.py'], output: 'gc.mlens' }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      const gcs = o.records('gc');
      assert.ok(gcs.filter((g) => g.generation === 2).length >= 2, 'the two gc.collect() calls');
      const collected = gcs.reduce((n, g) => n + g.collected, 0);
      assert.ok(collected >= 5000, `5,000 cycles collected (automatically and by gc.collect()): ${collected}`);
      assert.ok(gcs.every((g) => g.durationNs > 0 && g.uncollectable === 0));
      const states = o.records('gc-state');
      assert.ok(states[0]?.enabled === true, 'the state at start');
      assert.ok(
        states.some((s) => !s.enabled),
        'gc.disable()',
      );
      assert.ok(
        states.some((s) => s.thresholds[0] === 1234 && s.thresholds[1] === 11 && s.thresholds[2] === 12),
        'gc.set_threshold()',
      );
      const last = states[states.length - 1]!;
      assert.equal(last.enabled, true, 'gc.enable() at the end');
      assert.ok(last.frozenObjects > 0, 'gc.freeze()');
    });

    test('snapshots every memory interval, agent statistics, cgroup usage', async () => {
      const r = await memlensRun({ python: py.python, files: { 'sleep.py': SLEEP }, program: ['sleep.py'], output: 'sleep10.mlens' }, tmp.dir);
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      const snaps = o.records('snapshot');
      assert.ok(snaps.length >= 30 && snaps.length <= 75, `${snaps.length} snapshots in 0.6 s at 10 ms`);
      assert.ok(snaps.every((s) => s.rss > 0 && s.rss === s.rssAnon + s.rssFile + s.rssShmem));
      assert.ok(o.records('agent-stats').length >= 1);
      assert.equal(o.header?.memoryIntervalMs, 10);
      const r100 = await memlensRun({ python: py.python, files: { 'sleep.py': SLEEP }, program: ['sleep.py'], output: 'sleep100.mlens', runArgs: ['--memory-interval-ms', '100'] }, tmp.dir);
      const o100 = await Oracle.load(r100.capture);
      const n100 = o100.records('snapshot').length;
      assert.ok(n100 >= 4 && n100 <= 10, `${n100} snapshots in 0.6 s at 100 ms`);
      assert.equal(o100.header?.memoryIntervalMs, 100);
    });

    test('IMAGE for libraries loaded while tracking, IMAGE_UNLOAD when they go', async () => {
      const r = await memlensRun({ python: py.python, files: { 'loads.py': LOADS }, program: ['loads.py'], output: 'loads.mlens' }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      const images = o.records('image');
      assert.ok(images.some((i) => i.path.includes('libc.so')));
      const util = images.filter((i) => i.path.includes('libutil'));
      assert.equal(util.length, 1);
      assert.ok(util[0]!.segments.length >= 1);
      assert.ok(util[0]!.buildId.length >= 8, 'its GNU build id');
      assert.ok(o.records('image-unload').some((u) => u.loadBias === util[0]!.loadBias));
    });

    test('dlsym(RTLD_NEXT) still answers relative to its caller', async () => {
      const lib = join(tmp.dir, 'next');
      mkdirSync(lib, { recursive: true });
      const cc = process.env['CC'] ?? 'cc';
      const src = join(REPO_ROOT, 'agent', 'test', 'dlsym_next.c');
      let c = spawnSync(cc, ['-shared', '-fPIC', '-DWHICH=2', '-o', join(lib, 'libmemlens_test_b.so'), src, '-ldl'], { encoding: 'utf8' });
      assert.equal(c.status, 0, c.stderr);
      c = spawnSync(cc, ['-shared', '-fPIC', '-DWHICH=1', '-o', join(lib, 'libmemlens_test_a.so'), src, `-L${lib}`, '-Wl,--no-as-needed', '-lmemlens_test_b', '-Wl,-rpath,$ORIGIN', '-ldl'], {
        encoding: 'utf8',
      });
      assert.equal(c.status, 0, c.stderr);
      const prog = `import ctypes\na = ctypes.CDLL(${JSON.stringify(join(lib, 'libmemlens_test_a.so'))})\nprint(a.memlens_test_which(), a.memlens_test_call_next())\n`;
      const plain = spawnSync(py.python, ['-c', prog], { encoding: 'utf8' });
      assert.equal(plain.stdout, '1 2\n', plain.stderr);
      const r = await memlensRun({ python: py.python, program: ['-c', prog], output: 'next.mlens' }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.stdout, '1 2\n', 'the next definition after the calling library, as without memlens');
    });

    test("dlopen by bare name finds the library through the caller's RUNPATH", async () => {
      const lib = join(tmp.dir, 'lib');
      mkdirSync(join(lib, 'deps'), { recursive: true });
      const cc = process.env['CC'] ?? 'cc';
      const src = join(REPO_ROOT, 'agent', 'test');
      let c = spawnSync(cc, ['-shared', '-fPIC', '-o', join(lib, 'deps', 'libmemlens_test_dep.so'), join(src, 'dlopen_dep.c')], { encoding: 'utf8' });
      assert.equal(c.status, 0, c.stderr);
      c = spawnSync(cc, ['-shared', '-fPIC', '-Wl,--enable-new-dtags,-rpath,$ORIGIN/deps', '-o', join(lib, 'libcaller.so'), join(src, 'dlopen_caller.c'), '-ldl'], { encoding: 'utf8' });
      assert.equal(c.status, 0, c.stderr);
      const prog = `import ctypes\nlib = ctypes.CDLL(${JSON.stringify(join(lib, 'libcaller.so'))})\nprint(lib.memlens_test_load_dep(ctypes.c_size_t(424242)))\n`;
      const r = await memlensRun({ python: py.python, files: { 'dl.py': prog }, program: ['dl.py'], output: 'dl.mlens' }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.stdout, '1\n', 'the dependency was found and called');
      const o = await Oracle.load(r.capture);
      assert.equal(o.allocs.filter((a) => a.size === 424242).length, 1, "the new library's malloc is hooked");
    });
  });
}
