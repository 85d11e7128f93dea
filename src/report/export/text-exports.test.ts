// The text exports come out in bounded chunks whose concatenation is byte for byte what the old one-string
// exports wrote (their code is kept here as the reference).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type StreamCall, randomStream, replay } from '../../../test/support/random-stream.js';
import { type SiteAmount, allAllocations } from '../../analysis/allocation-set.js';
import { leaks } from '../../analysis/leaks.js';
import { type StackAmount, stacksOf } from '../../analysis/stacks.js';
import { ALLOCATORS } from '../../capture/format.js';
import { ModelBuilder } from '../../model/builder.js';
import { DEFAULT_FRAME_FILTER, type Frame, type FrameFilter } from '../../model/frames.js';
import type { FrameId, SiteId } from '../../model/ids.js';
import type { CaptureModel } from '../../model/model.js';
import { EXPORT_CHUNK, chunked, csvChunks, foldedChunks, gprof2dotJson, jsonChunks, speedscopeProfile } from './text-exports.js';

// ---- The exports as they were (one string), the reference. ----
function integerText(n: number): string {
  return Number.isSafeInteger(n) ? String(n) : Number.isInteger(n) ? BigInt(n).toString() : String(Math.round(n));
}
function oldFolded(model: CaptureModel, stacks: readonly StackAmount[]): string {
  const fold = (f: Pick<Frame, 'function' | 'file' | 'line'>): string =>
    (f.file === '' ? f.function : f.line > 0 ? `${f.function} (${f.file}:${f.line})` : `${f.function} (${f.file})`).replace(/[;\r\n]/g, ':');
  const lines: string[] = [];
  for (const st of stacks) {
    if (st.bytes <= 0) continue;
    const ids = st.frames;
    const frames = ids.length === 0 ? [fold({ function: '<no Python stack>', file: '', line: 0 })] : ids.map((id) => fold(model.frames.frame(id)));
    lines.push(`${frames.join(';')} ${integerText(st.bytes)}`);
  }
  return lines.length > 0 ? lines.join('\n') + '\n' : '';
}
function csvLine(fields: readonly string[]): string {
  return fields.map((f) => (/[",\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',') + '\r\n';
}
function oldCsv(model: CaptureModel, sites: readonly SiteAmount[], filter: FrameFilter): string {
  const rows = new Map<string, { allocator: string; count: number; bytes: number; tid: number; thread: string; stack: string }>();
  for (const s of sites) {
    const frames = model.frames.stack(model.sites.pyStack(s.site), model.sites.nativeStack(s.site), filter);
    const stack = [...frames]
      .reverse()
      .map((id) => {
        const f = model.frames.frame(id);
        return `${f.function};${f.file};${f.line}`;
      })
      .join('|');
    const t = model.threads[model.sites.thread(s.site)];
    const allocator = (ALLOCATORS[model.sites.allocator(s.site)] ?? 'other').toUpperCase();
    const tid = t?.osTid ?? 0;
    const key = `${allocator}\u0000${tid}\u0000${stack}`;
    let r = rows.get(key);
    if (r === undefined) {
      r = { allocator, count: 0, bytes: 0, tid, thread: t?.name ?? '', stack };
      rows.set(key, r);
    }
    r.count += s.count;
    r.bytes += s.bytes;
  }
  const out = [csvLine(['allocator', 'num_allocations', 'size', 'tid', 'thread_name', 'stack_trace'])];
  for (const r of [...rows.values()].sort((a, b) => b.bytes - a.bytes)) {
    out.push(csvLine([r.allocator, integerText(r.count), integerText(r.bytes), String(r.tid), r.thread, r.stack]));
  }
  return out.join('');
}

// ---- Models. ----
function model(seed: number, codes = 6, hidden = false): CaptureModel {
  const builder = new ModelBuilder({ lineResolver: (_code, instr) => instr, temporaryThreshold: 2 });
  const stream = randomStream(seed, { events: 3000, mmapShare: 0.1, codes });
  // 'hidden frames': a code in three of the import system, one in three runpy's, which the default filter hides.
  const hide = (c: StreamCall): StreamCall =>
    c.kind === 'meta' && c.record.type === 'code' && c.record.codeId % 3 !== 0
      ? { kind: 'meta', record: { ...c.record, filename: c.record.codeId % 3 === 1 ? '<frozen importlib._bootstrap>' : '/usr/lib/python3.11/runpy.py' } }
      : c;
  replay(hidden ? { header: stream.header, calls: stream.calls.map(hide) } : stream, builder);
  return builder.finish();
}

/** The model with its functions renamed: the characters the formats escape, and a pair of surrogates. */
function renamed(m: CaptureModel, rename: (f: Frame) => Partial<Frame>): CaptureModel {
  const frames = new Proxy(m.frames, {
    get(target, prop) {
      if (prop === 'frame') return (id: FrameId): Frame => ({ ...target.frame(id), ...rename(target.frame(id)) });
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return new Proxy(m, { get: (target, prop): unknown => (prop === 'frames' ? frames : Reflect.get(target, prop, target)) });
}
const odd = (f: Frame): Partial<Frame> => ({ function: `${f.function}|"😀,;\n${'é'.repeat(f.line % 5)}` });

/** The chunks, each checked against the bound, and their UTF-8 joined. */
function bytesOf(chunks: Iterable<string>, bound: number): Buffer {
  const parts: Buffer[] = [];
  for (const c of chunks) {
    assert.ok(c.length > 0 && c.length <= bound, `a chunk of ${c.length} code units, bound ${bound}`);
    parts.push(Buffer.from(c, 'utf8'));
  }
  return Buffer.concat(parts);
}

for (const seed of [1, 2]) {
  // 'few lines': frames of different lines read the same, so different stacks share texts and CSV rows merge.
  for (const variant of ['plain', 'odd names', '300 functions', 'few lines', 'hidden frames'] as const) {
    test(`chunked exports equal the one-string exports, every chunk within its bound (seed ${seed}, ${variant})`, () => {
      const base = model(seed, variant === '300 functions' ? 300 : 6, variant === 'hidden frames');
      const m = variant === 'odd names' ? renamed(base, odd) : variant === 'few lines' ? renamed(base, (f) => ({ line: f.line % 3 })) : base;
      const filter = DEFAULT_FRAME_FILTER;
      if (variant === 'hidden frames')
        assert.ok(
          ['import', 'internal'].every((k) => m.frames.frames.some((f) => f.kind === k)),
          'frames the filter hides',
        );
      for (const set of [allAllocations(m), leaks(m)]) {
        const stacks = stacksOf(m, set, { filter });
        assert.ok(stacks.length > 3, 'a model with stacks');
        const folded = Buffer.from(oldFolded(m, stacks), 'utf8');
        const csv = Buffer.from(oldCsv(m, set.sites, filter), 'utf8');
        const speedscope = Buffer.from(JSON.stringify(speedscopeProfile(m, stacks, 'memlens@test')) + '\n', 'utf8');
        const gprof = Buffer.from(JSON.stringify(gprof2dotJson(m, stacks)) + '\n', 'utf8');
        // 2: a surrogate pair at the end of a chunk moves whole to the next one; 7 and 100 cut lines and frames.
        for (const bound of [2, 7, 100, EXPORT_CHUNK]) {
          assert.deepEqual(bytesOf(foldedChunks(m, stacks, bound), bound), folded, `folded, bound ${bound}`);
          assert.deepEqual(bytesOf(csvChunks(m, set.sites, filter, bound), bound), csv, `csv, bound ${bound}`);
          if (set.columns !== undefined) assert.deepEqual(bytesOf(csvChunks(m, set.columns, filter, bound), bound), csv, `csv of columns, bound ${bound}`);
          assert.deepEqual(bytesOf(jsonChunks(speedscopeProfile(m, stacks, 'memlens@test'), '\n', bound), bound), speedscope, `speedscope, bound ${bound}`);
          assert.deepEqual(bytesOf(jsonChunks(gprof2dotJson(m, stacks), '\n', bound), bound), gprof, `gprof2dot, bound ${bound}`);
        }
      }
    });
  }
}

test('the chunks of a long export are many, each within the bound; a piece longer than the bound is cut', () => {
  const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'x'.repeat(i % 300)}\n`);
  const bound = 1000;
  const chunks = [...chunked(lines, bound)];
  assert.ok(chunks.length > 100);
  assert.ok(chunks.every((c) => c.length <= bound && c.length > 0));
  assert.equal(chunks.join(''), lines.join(''));
  const long = 'ab😀'.repeat(3000);
  const cut = [...chunked(['<', long, '>'], 8)];
  assert.ok(cut.every((c) => c.length <= 8 && !/[\ud800-\udbff]$/.test(c)));
  assert.equal(Buffer.concat(cut.map((c) => Buffer.from(c))).toString(), `<${long}>`);
});

test('JSON in chunks is JSON.stringify: undefined members, nulls, nested arrays, long arrays of numbers', () => {
  const v = { a: undefined, b: null, c: [1, undefined, { d: [[1.5, -0, 1e21]], e: 'x"\u2028' }], f: Array.from({ length: 70000 }, (_, i) => i), g: NaN, h: { i: 'j' } };
  assert.equal([...jsonChunks(v, '\n', 50)].join(''), JSON.stringify(v) + '\n');
});

test('csv: a frame whose text has a `|` joins the row of the stack it reads as', () => {
  // A capture cannot be made to hold this (a function named after another frame's text), so a model of three
  // sites: [A, B] (root first), [C] with C's text that of B then A (leaf first), and [C, C].
  const frame = (id: number, fn: string, file: string, line: number): Frame =>
    ({ id: id as FrameId, function: fn, file, line, kind: 'python', native: false, module: '', moduleType: 'user' }) as unknown as Frame;
  const frames = [frame(0, 'a', 'm.py', 1), frame(1, 'b', 'm.py', 2), frame(2, 'b', 'm.py;2|a;m.py', 1)];
  // Python stack nodes 1 to 4 (frame, parent): site 0 at node 2, site 1 at node 3, site 2 at node 4.
  const nodes: [number, number][] = [
    [-1, 0],
    [0, 0],
    [1, 1],
    [2, 0],
    [2, 3],
  ];
  const stack = (py: number): FrameId[] => {
    const out: FrameId[] = [];
    for (let n = py; n > 0; n = nodes[n]![1]) out.push(nodes[n]![0] as FrameId);
    return out.reverse();
  };
  const m = {
    frames: {
      frames,
      pyNodeCount: 4,
      frame: (id: FrameId) => frames[id],
      pyFrameOf: (n: number) => nodes[n]![0],
      pyParentOf: (n: number) => nodes[n]![1],
      visible: () => true,
      stack,
    },
    sites: { pyStack: (s: SiteId) => [2, 3, 4][s], nativeStack: () => 0, thread: () => 0, allocator: () => 1 },
    threads: [{ osTid: 7, name: 'main' }],
  } as unknown as CaptureModel;
  const sites = [
    { site: 0 as SiteId, bytes: 10, count: 1 },
    { site: 1 as SiteId, bytes: 5, count: 2 },
    { site: 2 as SiteId, bytes: 12, count: 3 },
  ];
  const csv = [...csvChunks(m, sites, DEFAULT_FRAME_FILTER)].join('');
  assert.equal(csv, oldCsv(m, sites, DEFAULT_FRAME_FILTER));
  assert.equal(csv.split('\r\n').length, 4, 'a header and two rows');
});
