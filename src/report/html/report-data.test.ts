import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from '../../../test/support/prng.js';
import { randomStream, replay, type StreamCall } from '../../../test/support/random-stream.js';
import { baseMeta } from '../../../test/support/synthetic-profile.js';
import { allAllocations, type AllocationSet } from '../../analysis/allocation-set.js';
import { highWaterMark } from '../../analysis/high-water-mark.js';
import { leaks } from '../../analysis/leaks.js';
import { PeakTimeline } from '../../analysis/peak-timeline.js';
import { ALLOCATORS } from '../../capture/format.js';
import { ModelBuilder } from '../../model/builder.js';
import type { FrameId, SiteId } from '../../model/ids.js';
import type { CaptureModel } from '../../model/model.js';
import { threadLabel } from '../../model/thread-name.js';
import { FrameFlag } from './payload.js';
import { ReportDataBuilder } from './report-builder.js';
import { buildReportData, fmtCount, frameFlags } from './report-data.js';

test('fmtCount writes what toLocaleString(en-US) of the rounded number writes', () => {
  const rnd = prng(3);
  const values = [0, -0, 0.4, -0.4, 0.5, -0.5, 1.5, -1.5, 999, 999.5, 1000, 123456789.49, -1234567, 2 ** 53, 2 ** 64, 1e20, 9.99e20, 1e21, -1e22, NaN, Infinity, -Infinity];
  for (let i = 0; i < 2000; i++) values.push((rnd() - 0.3) * 10 ** Math.floor(rnd() * 22));
  for (const n of values) assert.equal(fmtCount(n), Math.round(n).toLocaleString('en-US'), String(n));
});

// The page's stacks, as the loop before round twenty-two made them: every site's frames (model.frames.stack
// with every kind shown, root first) into payload frames, then the stack's nodes, a (Python node, native
// node) pair drawn once, and past the node budget the sites not drawn into one "other" node per thread.
function referenceStacks(model: CaptureModel, set: AllocationSet, extraSites: readonly number[], maxNodes: number): { data: ReturnType<ReportDataBuilder['build']>; location: Map<number, number> } {
  const b = new ReportDataBuilder();
  for (const t of model.threads) b.thread(threadLabel(model, t), t.osTid);
  if (model.threads.length === 0) b.thread('main', model.header.mainTid);
  const frameMap = new Map<FrameId, number>();
  const payloadFrame = (id: FrameId): number => {
    let pf = frameMap.get(id);
    if (pf === undefined) {
      const f = model.frames.frame(id);
      const source = !f.native && f.line > 0 ? `line ${f.line} of ${f.file}` : null;
      pf = b.uniqueFrame(f.function, f.file, f.line, frameFlags(f), source);
      frameMap.set(id, pf);
    }
    return pf;
  };
  const order = [...set.sites.map((s) => s.site as number), ...extraSites];
  const nodeOfPair = new Map<string, number>();
  const other = new Map<number, number>();
  const location = new Map<number, number>();
  for (let i = 0; i < order.length; i++) {
    const site = order[i]! as SiteId;
    const py = model.sites.pyStack(site);
    const nat = model.sites.nativeStack(site);
    const thread = model.threads.length === 0 ? 0 : model.sites.thread(site);
    const key = `${py}:${nat}`;
    let node = nodeOfPair.get(key);
    if (node === undefined && b.nodeCount < maxNodes) {
      node = b.stack(model.frames.stack(py, nat, { showInternal: true, showImports: true }).map(payloadFrame));
      nodeOfPair.set(key, node);
    }
    if (node === undefined) {
      node = other.get(thread);
      if (node === undefined) {
        node = b.node(0, b.frame('[other stacks, reduced to fit]', '', 0, FrameFlag.Synthetic));
        other.set(thread, node);
      }
    }
    const a = i < set.sites.length ? set.sites[i]! : { bytes: 0, count: 0 };
    location.set(site, b.add(node, thread, ALLOCATORS[model.sites.allocator(site)] ?? 'other', a.bytes, a.count));
  }
  return { data: b.build(baseMeta()), location };
}

/** A random capture's model, a share of its allocations with native stacks (a few nodes per thread). */
function nativeModel(seed: number, observer?: PeakTimeline): CaptureModel {
  const stream = randomStream(seed, { events: 4000, mmapShare: 0.1, codes: 12 });
  const rnd = prng(seed + 100);
  const calls: StreamCall[] = [];
  const reset = new Set<number>();
  let natives = false;
  for (const c of stream.calls) {
    if (c.kind === 'meta' && c.record.type === 'frame' && !natives) {
      natives = true;
      for (let s = 1; s <= 3; s++) {
        for (let id = 1; id <= 6; id++) {
          calls.push({ kind: 'meta', record: { type: 'native-frame', stream: s, id, parent: id === 1 ? 0 : Math.floor(rnd() * id), ip: 0x7f0000001000 + 0x100 * (s * 8 + id) } });
        }
      }
    }
    if (c.kind === 'meta' && c.record.type === 'stack-reset') reset.add(c.record.stream);
    if (c.kind === 'alloc' && !reset.has(c.stream) && rnd() < 0.5) calls.push({ ...c, native: 1 + Math.floor(rnd() * 6) });
    else calls.push(c);
  }
  const builder = new ModelBuilder({ lineResolver: (_code, instr) => instr, temporaryThreshold: 2, observer });
  replay({ header: stream.header, calls }, builder);
  return builder.finish();
}

function sourceOf(file: string, line: number): string {
  return `line ${line} of ${file}`;
}

for (const seed of [1, 2, 3]) {
  test(`the page's frames, nodes and locations are those of every site's whole stack, under any node budget (seed ${seed})`, () => {
    const model = nativeModel(seed);
    let natives = 0;
    for (let s = 0; s < model.sites.size; s++) if (model.sites.nativeStack(s as SiteId) > 0) natives++;
    assert.ok(natives > 10, `${natives} sites with native stacks`);
    for (const set of [allAllocations(model), highWaterMark(model), leaks(model)]) {
      for (const maxNodes of [1_500_000, 40, 5]) {
        const want = referenceStacks(model, set, [], maxNodes).data;
        const wanted: [string, number][] = [];
        // The set's columns only: its objects are not read (they are ~80 bytes a site).
        const columnsOnly = { ...set, sites: [] };
        const got = buildReportData(model, {
          view: 'peak',
          set: columnsOnly,
          inverted: false,
          captureFile: 'x.mlens',
          memlensVersion: 'test',
          sourceLine: sourceOf,
          wantSourceLine: (file, line) => wanted.push([file, line]),
          temporal: null,
          limits: { maxSnapshots: 1_000_000, maxNodes },
        }).data;
        const what = `${set.kind}, ${maxNodes} nodes`;
        assert.deepEqual(got.frames, want.frames, what);
        assert.deepEqual(got.nodes, want.nodes, what);
        assert.deepEqual(got.locations, want.locations, what);
        assert.deepEqual(got.strings.slice(0, want.strings.length), want.strings, what);
        // Every line read was wanted first.
        const asked = new Set(wanted.map(([f, l]) => `${f}:${l}`));
        for (let k = 0; k < got.frames.source.length; k++) {
          if (got.frames.source[k]! < 0) continue;
          const text = got.strings[got.frames.source[k]!]!;
          const [, line, file] = /^line (\d+) of (.*)$/.exec(text)!;
          assert.ok(asked.has(`${file}:${line}`), `${text} was not wanted`);
        }
      }
    }
  });
}

test('the time windows’ intervals point at their sites’ locations, the sites only they need included', () => {
  const timeline = new PeakTimeline();
  const model = nativeModel(4, timeline);
  const temporal = timeline.finish(model.durationNs);
  const set = highWaterMark(model);
  const inSet = new Set(set.sites.map((s) => s.site as number));
  const extra = new Map<number, number>();
  for (let i = 0; i < temporal.site.length; i++) {
    const s = temporal.site[i]!;
    if (!inSet.has(s)) extra.set(s, Math.max(extra.get(s) ?? 0, temporal.bytes[i]!));
  }
  assert.ok(extra.size > 0, 'sites only the time windows need');
  const extraSites = [...extra].sort((x, y) => y[1] - x[1] || x[0] - y[0]).map(([s]) => s);
  const want = referenceStacks(model, set, extraSites, 1_500_000);
  const got = buildReportData(model, {
    view: 'peak',
    set,
    inverted: false,
    captureFile: 'x.mlens',
    memlensVersion: 'test',
    sourceLine: sourceOf,
    temporal,
    limits: { maxSnapshots: 1_000_000, maxNodes: 1_500_000 },
  }).data;
  assert.deepEqual(got.locations, want.data.locations);
  assert.deepEqual(got.nodes, want.data.nodes);
  assert.deepEqual(
    Array.from(got.temporal!.location),
    Array.from(temporal.site, (s) => want.location.get(s)),
  );
});
