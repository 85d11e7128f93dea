// The interval profiles memlens pushes: per stack, what was allocated during the interval and what is live
// at its end, weighed when sampled; and the bounds that keep a long run's memory flat (stack table cap and
// its other entry, eviction of stacks with nothing live, thread exit).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Allocator, Deallocator, LINETABLE_LNOTAB, OPTION_SAMPLED } from '../../capture/format.js';
import { makeHeader } from '../../capture/header.js';
import { sampleWeight } from '../../model/sampling.js';
import { IntervalProfiler, OTHER_STACKS_NAME, type ProfileStack } from './interval-profiler.js';

const firstLine = (): number => 0;

/** A profiler with code objects f0…f9 (file app.py, first line 10·i) and, per stream, node i = f(i-1) under the root. */
function profiler(options: { maxStacks?: number; sampled?: boolean } = {}): IntervalProfiler {
  const p = new IntervalProfiler({ maxStacks: options.maxStacks ?? 100, lineResolver: (code) => code.firstLineNo + firstLine() });
  p.header(makeHeader(options.sampled === true ? { options: OPTION_SAMPLED, sampleRateBytes: 1024, sampleExactBytes: 4096 } : {}));
  for (let i = 0; i < 10; i++) {
    p.meta({ type: 'code', stream: 1, codeId: i + 1, name: `f${i}`, qualname: `f${i}`, filename: 'app.py', firstLineNo: 10 * i, linetableKind: LINETABLE_LNOTAB, linetable: new Uint8Array() });
  }
  return p;
}

function defineStack(p: IntervalProfiler, stream: number, id: number, code: number, parent = 0): void {
  p.meta({ type: 'frame', stream, id, parent, codeId: code, instr: 0 });
}

function byName(stacks: readonly ProfileStack[]): Map<string, ProfileStack> {
  return new Map(stacks.map((s) => [s.frames.map((f) => f.function).join('>'), s]));
}

test('an interval: allocations of the interval, what is live at its end; the next interval starts from zero', () => {
  const p = profiler();
  defineStack(p, 1, 1, 1);
  defineStack(p, 1, 2, 2, 1);
  p.alloc(1, 1, 0x1000, 100, Allocator.Malloc, 1, 0);
  p.alloc(1, 2, 0x2000, 200, Allocator.Malloc, 2, 0);
  p.alloc(1, 3, 0x3000, 300, Allocator.Malloc, 2, 0);
  p.free(1, 4, 0x2000, 0, Deallocator.Free);
  const first = byName(p.take().stacks);
  assert.deepEqual(first.get('f0'), { frames: [{ function: 'f0', file: 'app.py', line: 0 }], allocObjects: 1, allocBytes: 100, inuseObjects: 1, inuseBytes: 100 });
  const f01 = first.get('f0>f1');
  assert.deepEqual([f01?.allocObjects, f01?.allocBytes, f01?.inuseObjects, f01?.inuseBytes], [2, 500, 1, 300]);
  assert.equal(f01?.frames[1]?.line, 10);
  // Nothing allocated since: only what is live, with alloc 0.
  p.free(1, 5, 0x1000, 0, Deallocator.Free);
  const second = byName(p.take().stacks);
  assert.equal(second.has('f0'), false, 'f0 holds nothing and allocated nothing: not in the profile');
  assert.deepEqual([second.get('f0>f1')?.allocBytes, second.get('f0>f1')?.inuseBytes], [0, 300]);
});

test('mappings: partial munmap, MAP_FIXED over a live mapping', () => {
  const p = profiler();
  defineStack(p, 1, 1, 1);
  p.alloc(1, 1, 0x100000, 0x10000, Allocator.Mmap, 1, 0);
  p.free(1, 2, 0x104000, 0x1000, Deallocator.Munmap); // a hole
  p.alloc(1, 3, 0x108000, 0x1000, Allocator.Mmap, 1, 0); // MAP_FIXED over part of it
  const s = byName(p.take().stacks).get('f0');
  assert.deepEqual([s?.allocObjects, s?.allocBytes, s?.inuseObjects, s?.inuseBytes], [2, 0x11000, 2, 0x10000 - 0x1000]);
});

test('sampled: each recorded allocation counts its weight, and so does its free', () => {
  const p = profiler({ sampled: true });
  const S = { rateBytes: 1024, exactBytes: 4096 };
  defineStack(p, 1, 1, 1);
  p.alloc(1, 1, 0x1000, 100, Allocator.Malloc, 1, 0);
  p.alloc(1, 2, 0x2000, 5000, Allocator.Malloc, 1, 0);
  p.alloc(1, 3, 0x3000, 1000, Allocator.Malloc, 1, 0);
  p.free(1, 4, 0x3000, 0, Deallocator.Free);
  const s = byName(p.take().stacks).get('f0');
  const w100 = sampleWeight(S, 100, Allocator.Malloc);
  const w1000 = sampleWeight(S, 1000, Allocator.Malloc);
  assert.ok(Math.abs((s?.allocObjects ?? 0) - (w100 + 1 + w1000)) < 1e-9);
  assert.ok(Math.abs((s?.allocBytes ?? 0) - (100 * w100 + 5000 + 1000 * w1000)) < 1e-6);
  assert.ok(Math.abs((s?.inuseBytes ?? 0) - (100 * w100 + 5000)) < 1e-6);
});

test('the stack table is capped: further stacks go to the other entry, counted; stacks with nothing live leave it', () => {
  const p = profiler({ maxStacks: 3 });
  for (let i = 1; i <= 6; i++) defineStack(p, 1, i, i);
  for (let i = 1; i <= 6; i++) p.alloc(1, i, 0x1000 * i, 10 * i, Allocator.Malloc, i, 0);
  const first = p.take();
  const names = byName(first.stacks);
  assert.deepEqual([...names.keys()].sort(), [OTHER_STACKS_NAME, 'f0', 'f1', 'f2'].sort());
  const other = names.get(OTHER_STACKS_NAME);
  assert.deepEqual([other?.allocObjects, other?.allocBytes, other?.inuseBytes], [3, 40 + 50 + 60, 150]);
  assert.equal(first.refusedStacks, 3);
  assert.equal(p.refusedAllocations, 3);
  // f0 and f1 free everything: at the next take they leave the table, and new stacks get their places.
  p.free(1, 7, 0x1000, 0, Deallocator.Free);
  p.free(1, 8, 0x2000, 0, Deallocator.Free);
  assert.equal(p.take().tableStacks, 1);
  defineStack(p, 2, 1, 7);
  p.alloc(2, 9, 0x9000, 70, Allocator.Malloc, 1, 0);
  const third = byName(p.take().stacks);
  assert.equal(third.get('f6')?.allocBytes, 70, 'a new stack found room again');
  // What went to the other entry stays there until it is freed.
  assert.equal(third.get(OTHER_STACKS_NAME)?.inuseBytes, 150);
  p.free(2, 10, 0x4000, 0, Deallocator.Free);
  assert.equal(byName(p.take().stacks).get(OTHER_STACKS_NAME)?.inuseBytes, 110);
});

test('a thread that ended leaves no node map behind; its live allocations stay', () => {
  const p = profiler();
  defineStack(p, 3, 1, 1);
  p.alloc(3, 1, 0x1000, 64, Allocator.Malloc, 1, 0);
  p.meta({ type: 'thread-exit', stream: 3, timeNs: 5 });
  assert.equal(byName(p.take().stacks).get('f0')?.inuseBytes, 64);
  // Another stream reuses local id 1 for another code: no confusion with the ended one.
  defineStack(p, 4, 1, 2);
  p.alloc(4, 2, 0x2000, 32, Allocator.Malloc, 1, 0);
  const s = byName(p.take().stacks);
  assert.equal(s.get('f1')?.allocBytes, 32);
  assert.equal(s.get('f0')?.inuseBytes, 64);
});

test('frames of the import system and of memlens are hidden, as in the reports', () => {
  const p = new IntervalProfiler({ lineResolver: (c) => c.firstLineNo });
  p.header(makeHeader({}));
  p.meta({ type: 'code', stream: 1, codeId: 1, name: '<module>', qualname: '<module>', filename: '/x/memlens_bootstrap.py', firstLineNo: 1, linetableKind: LINETABLE_LNOTAB, linetable: new Uint8Array() });
  p.meta({ type: 'code', stream: 1, codeId: 2, name: 'main', qualname: 'main', filename: '/srv/app.py', firstLineNo: 5, linetableKind: LINETABLE_LNOTAB, linetable: new Uint8Array() });
  defineStack(p, 1, 1, 1);
  defineStack(p, 1, 2, 2, 1);
  p.alloc(1, 1, 0x1000, 10, Allocator.Malloc, 2, 0);
  assert.deepEqual(
    p.take().stacks.map((s) => s.frames.map((f) => f.function)),
    [['main']],
  );
});

test('native stacks (--native): the C functions past the interpreter, named by the symbolizer, each pair of stacks its own entry', () => {
  const asked: string[] = [];
  const p = new IntervalProfiler({
    lineResolver: (code) => code.firstLineNo,
    symbolizer: (path, _buildId, vaddr) => {
      asked.push(`${path}:${vaddr.toString(16)}`);
      return path === '/site/_multiarray_umath.so' ? ({ 0x1233: 'array_empty', 0x1fff: 'default_malloc' } as Record<number, string>)[vaddr] : undefined;
    },
  });
  p.header(makeHeader({ executable: '/usr/bin/python3.11' }));
  p.meta({ type: 'code', stream: 1, codeId: 1, name: 'hold', qualname: 'hold', filename: 'app.py', firstLineNo: 7, linetableKind: LINETABLE_LNOTAB, linetable: new Uint8Array() });
  const segment = { vaddr: 0, memsz: 0x100000, prot: 5, fileOffset: 0 };
  p.meta({ type: 'image', stream: 1, seq: 0, loadBias: 0x400000, path: '', buildId: new Uint8Array(), segments: [segment] });
  p.meta({ type: 'image', stream: 1, seq: 0, loadBias: 0x7f0000000000, path: '/site/_multiarray_umath.so', buildId: new Uint8Array(), segments: [segment] });
  defineStack(p, 1, 1, 1);
  // Native nodes, root first: the interpreter's eval loop, then numpy's array_empty calling default_malloc.
  p.meta({ type: 'native-frame', stream: 1, id: 1, parent: 0, ip: 0x401000 });
  p.meta({ type: 'native-frame', stream: 1, id: 2, parent: 1, ip: 0x7f0000001234 });
  p.meta({ type: 'native-frame', stream: 1, id: 3, parent: 2, ip: 0x7f0000002000 });
  p.meta({ type: 'native-frame', stream: 1, id: 4, parent: 1, ip: 0x7f0000009000 }); // no symbol: an offset
  p.alloc(1, 1, 0x1000, 100, Allocator.Malloc, 1, 3);
  p.alloc(1, 2, 0x2000, 200, Allocator.Malloc, 1, 3);
  p.alloc(1, 3, 0x3000, 300, Allocator.Malloc, 1, 4);
  p.alloc(1, 4, 0x4000, 400, Allocator.Malloc, 1, 0);
  const stacks = byName(p.take().stacks);
  assert.deepEqual(stacks.get('hold>array_empty>default_malloc')?.frames, [
    { function: 'hold', file: 'app.py', line: 7 },
    { function: 'array_empty', file: '/site/_multiarray_umath.so', line: 0 },
    { function: 'default_malloc', file: '/site/_multiarray_umath.so', line: 0 },
  ]);
  assert.equal(stacks.get('hold>array_empty>default_malloc')?.allocBytes, 300);
  assert.equal(stacks.get('hold>_multiarray_umath.so+0x9000')?.allocBytes, 300);
  assert.equal(stacks.get('hold')?.allocBytes, 400, 'without a native stack: the Python frames alone');
  assert.equal(stacks.size, 3);
  // Each address was named once, however many allocations and profiles showed it.
  p.take();
  assert.equal(asked.filter((a) => a === '/site/_multiarray_umath.so:1233').length, 1);
});

test('native stacks are bounded: past maxNodes (Python, native) pairs, new stacks go to the other entry', () => {
  const p = new IntervalProfiler({ maxNodes: 4, lineResolver: (code) => code.firstLineNo, symbolizer: () => undefined });
  p.header(makeHeader({}));
  p.meta({ type: 'code', stream: 1, codeId: 1, name: 'f', qualname: 'f', filename: 'app.py', firstLineNo: 1, linetableKind: LINETABLE_LNOTAB, linetable: new Uint8Array() });
  defineStack(p, 1, 1, 1);
  for (let i = 1; i <= 10; i++) p.meta({ type: 'native-frame', stream: 1, id: i, parent: 0, ip: 0x1000 * i });
  for (let i = 1; i <= 10; i++) p.alloc(1, i, 0x100000 * i, 10, Allocator.Malloc, 1, i);
  const stacks = p.take().stacks;
  const other = stacks.find((s) => s.frames[0]?.function === OTHER_STACKS_NAME);
  assert.equal(stacks.length, 5, 'four native nodes, each its own stack, and the other entry');
  assert.equal(other?.allocObjects, 6);
  // A thread's native ids go away with it.
  p.meta({ type: 'thread-exit', stream: 1, timeNs: 0 });
  defineStack(p, 1, 1, 1); // the Python id is defined again, the native one is not
  p.alloc(1, 12, 0x9000000, 10, Allocator.Malloc, 1, 2);
  assert.equal(p.take().stacks.find((s) => s.frames[0]?.function === OTHER_STACKS_NAME)?.allocObjects, 1, 'an id defined before the exit is not known after it');
});

test('an unloaded image is forgotten (a service that loads and unloads libraries all day keeps a bounded table)', () => {
  const p = new IntervalProfiler({ lineResolver: (code) => code.firstLineNo, symbolizer: (_path, _id, vaddr) => (vaddr === 0xfff ? 'plugin_alloc' : undefined) });
  p.header(makeHeader({}));
  const segment = { vaddr: 0, memsz: 0x10000, prot: 5, fileOffset: 0 };
  p.meta({ type: 'image', stream: 1, seq: 0, loadBias: 0x7f0000000000, path: '/opt/plugin.so', buildId: new Uint8Array(), segments: [segment] });
  p.meta({ type: 'native-frame', stream: 1, id: 1, parent: 0, ip: 0x7f0000001000 });
  p.alloc(1, 1, 0x1000, 100, Allocator.Malloc, 0, 1);
  assert.deepEqual(
    p.take().stacks.map((s) => s.frames.map((f) => f.function)),
    [['plugin_alloc']],
  );
  p.meta({ type: 'image-unload', stream: 1, seq: 0, loadBias: 0x7f0000000000 });
  assert.deepEqual(
    p.take().stacks.map((s) => s.frames.map((f) => f.function)),
    [['0x7f0000001000']],
    'still live, now named by its address',
  );
});

test("the program's end: the last profile holds what the program held then, not memlens's release after it", () => {
  const p = profiler();
  defineStack(p, 1, 1, 1);
  p.alloc(1, 1, 0x1000, 100, Allocator.Malloc, 1, 0);
  p.meta({ type: 'marker', stream: 0, seq: 2, timeNs: 5, kind: 9, label: 'released' });
  p.free(1, 2, 0x1000, 0, Deallocator.Free); // the release of the script's names
  p.alloc(1, 3, 0x2000, 50, Allocator.Malloc, 1, 0); // memlens's own work after the end
  const s = byName(p.take().stacks).get('f0');
  assert.deepEqual([s?.allocObjects, s?.allocBytes, s?.inuseObjects, s?.inuseBytes], [1, 100, 1, 100]);
});
