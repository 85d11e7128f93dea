// Report data made up for tests and benchmarks: a small "known program" whose every number a test can
// predict, and a large random profile of a chosen size (frames, snapshots) for the performance budget.

import { FrameFlag, type ReportData, type ReportMeta } from '../../src/report/html/payload.js';
import { ReportDataBuilder } from '../../src/report/html/report-builder.js';
import { prng } from './prng.js';

const MiB = 1024 * 1024;

export const HOSTILE_NAME = '</script><img src=x onerror=alert(1)>';
export const HOSTILE_FILE = '<img src=x onerror=alert(2)>.py';
export const HOSTILE_SOURCE = 'x = "<script>alert(3)</script>"';

export function baseMeta(overrides: Partial<ReportMeta> = {}): ReportMeta {
  return {
    title: 'python3 app.py --epochs 3',
    memlensVersion: '0.1.0',
    view: 'peak',
    inverted: false,
    viewDescription: 'Allocations live at the high-water mark (1053 MiB, 6.50 s into the run)',
    captureFile: 'app.mlens',
    commandLine: ['python3', 'app.py', '--epochs', '3'],
    pythonVersion: '3.11.7',
    pythonAllocator: 'pymalloc',
    pid: 4242,
    hostname: 'worker-1',
    startWallMs: Date.UTC(2026, 0, 2, 3, 4, 5),
    durationNs: 10e9,
    peakHeapBytes: 1053 * MiB,
    peakTimeNs: 6.5e9,
    peakRssBytes: 1100 * MiB,
    totalAllocations: 1_234_567,
    totalBytesAllocated: 12_345 * MiB,
    cgroupLimitBytes: 1536 * MiB,
    options: ['native stacks'],
    captureMode: 'run',
    ending: 'exit code 0',
    notes: [],
    reductions: [],
    emptyReason: null,
    verdict: null,
    ...overrides,
  };
}

/**
 * The known program. Peak view (bytes): load_matrix→zeros 600 MiB (main thread), read_chunk 250 MiB
 * (second thread, named with hostile markup), build_cache 200 MiB (main), json import 2 MiB, the hostile
 * frame 1 MiB: 1053 MiB. Ten ticks of one second; the lifetimes (ticks, [start, end)) are zeros [6, 10),
 * read_chunk [1, 7), build_cache [2, 9), json and hostile [0, 10). So the whole run peaks at tick 6 (all
 * five), and a window over ticks 1–4 peaks at tick 2 (453 MiB) with read_chunk the largest.
 */
export function knownProgram(options: { temporal?: boolean; meta?: Partial<ReportMeta> } = {}): ReportData {
  const b = new ReportDataBuilder();
  const runpy = b.frame('_run_module_as_main', '<frozen runpy>', 198, FrameFlag.Python | FrameFlag.Interpreter);
  const mod = b.frame('<module>', '/srv/app/app.py', 80, FrameFlag.Python, 'main()');
  const main = b.frame('main', '/srv/app/app.py', 72, FrameFlag.Python, '    matrix = load_matrix(4096)');
  const evalf = b.frame('_PyEval_EvalFrameDefault', 'libpython3.11.so.1.0', 0, FrameFlag.Native | FrameFlag.Interpreter);
  const load = b.frame('load_matrix', '/srv/app/app.py', 12, FrameFlag.Python, '    return np.zeros((n, n, 4))');
  const zeros = b.frame('zeros', '/venv/lib/python3.11/site-packages/numpy/core/numeric.py', 140, FrameFlag.Python | FrameFlag.Library);
  const mainCache = b.frame('main', '/srv/app/app.py', 73, FrameFlag.Python, '    cache = build_cache()');
  const cache = b.frame('build_cache', '/srv/app/app.py', 25, FrameFlag.Python, '        cache[k] = [k] * 8');
  const imp = b.frame('_find_and_load', '<frozen importlib._bootstrap>', 1027, FrameFlag.Python | FrameFlag.Import);
  const json = b.frame('<module>', '/usr/lib/python3.11/json/decoder.py', 1, FrameFlag.Python | FrameFlag.Stdlib);
  const boot = b.frame('_bootstrap_inner', '/usr/lib/python3.11/threading.py', 1045, FrameFlag.Python | FrameFlag.Interpreter);
  const loader = b.frame('loader_thread', '/srv/app/app.py', 60, FrameFlag.Python, '        chunk = read_chunk(f)');
  const chunk = b.frame('read_chunk', '/srv/app/app.py', 66, FrameFlag.Python, '    return f.read(1 << 20)');
  const hostile = b.frame(HOSTILE_NAME, HOSTILE_FILE, 3, FrameFlag.Python, HOSTILE_SOURCE);
  const tMain = b.thread('MainThread', 1000);
  const tLoader = b.thread(HOSTILE_NAME, 1001);
  const lZeros = b.add(b.stack([runpy, mod, main, evalf, load, zeros]), tMain, 'malloc', 600 * MiB, 3);
  const lCache = b.add(b.stack([runpy, mod, mainCache, cache]), tMain, 'pymalloc', 200 * MiB, 50_000);
  const lJson = b.add(b.stack([runpy, mod, imp, json]), tMain, 'pymalloc', 2 * MiB, 100);
  const lHostile = b.add(b.stack([runpy, mod, hostile]), tMain, 'malloc', 1 * MiB, 1);
  const lChunk = b.add(b.stack([boot, loader, chunk]), tLoader, 'malloc', 250 * MiB, 150);
  for (let i = 0; i <= 100; i++) {
    const t = i * 1e8;
    const heap = (i < 10 ? 3 : i < 20 ? 253 : i < 60 ? 453 : i < 70 ? 1053 : i < 90 ? 803 : 603) * MiB;
    b.snapshot(t, heap + 150 * MiB, heap + 100 * MiB, 50 * MiB, heap, heap + 160 * MiB);
  }
  b.marker(3e9, 'fork', 'child 4243');
  b.marker(8.5e9, 'near OOM', `${HOSTILE_NAME} memory.high reached`);
  if (options.temporal !== false) {
    const ticks = 10;
    const lifetimes: [number, number, number, number, number][] = [
      [lZeros, 6, ticks, 3, 600 * MiB],
      [lCache, 2, 9, 50_000, 200 * MiB],
      [lChunk, 1, 7, 150, 250 * MiB],
      [lJson, 0, ticks, 100, 2 * MiB],
      [lHostile, 0, ticks, 1, 1 * MiB],
    ];
    const peak = new Float64Array(ticks);
    for (const [, s, e, , bytes] of lifetimes) for (let k = s; k < e; k++) peak[k]! += bytes;
    b.setTemporal({
      kind: 'peak',
      tickEnd: Float64Array.from({ length: ticks }, (_, k) => (k + 1) * 1e9),
      tickPeakHeap: peak,
      tickPeakTime: Float64Array.from({ length: ticks }, (_, k) => k * 1e9 + 5e8),
      location: Int32Array.from(lifetimes.map((l) => l[0])),
      start: Int32Array.from(lifetimes.map((l) => l[1])),
      end: Int32Array.from(lifetimes.map((l) => l[2])),
      count: Float64Array.from(lifetimes.map((l) => l[3])),
      bytes: Float64Array.from(lifetimes.map((l) => l[4])),
    });
  }
  return b.build(baseMeta(options.meta));
}

export interface LargeProfileOptions {
  readonly frames: number;
  readonly snapshots: number;
  readonly threads?: number;
  readonly ticks?: number;
  readonly seed?: number;
}

/**
 * A random profile with `frames` distinct frames (one per stack node of a random tree of depth ~ln n plus
 * chains), allocations at every leaf, `snapshots` timeline points and, with `ticks`, live intervals.
 */
export function largeProfile(o: LargeProfileOptions): ReportData {
  const rnd = prng(o.seed ?? 1);
  const b = new ReportDataBuilder();
  const threads = o.threads ?? 4;
  for (let t = 0; t < threads; t++) b.thread(t === 0 ? 'MainThread' : `worker-${t}`, 2000 + t);
  const nodes: number[] = [0];
  const depth: number[] = [0];
  const hasChild = new Uint8Array(o.frames + 1);
  for (let i = 0; i < o.frames; i++) {
    const pkg = i % 400;
    const flags = FrameFlag.Python | (pkg < 40 ? FrameFlag.Library : pkg < 80 ? FrameFlag.Stdlib : 0);
    const f = b.frame(`pkg${pkg}.mod${i % 5000}.function_with_a_longer_name_${i}`, `/srv/app/pkg${pkg}/mod${i % 5000}.py`, 1 + (i % 900), flags);
    // Mostly extend a recent node (deep chains, as real programs have), sometimes branch anywhere.
    const pick = rnd() < 0.7 ? nodes.length - 1 - Math.floor(rnd() * Math.min(nodes.length, 20)) : Math.floor(rnd() * nodes.length);
    const parentIdx = depth[pick]! >= 60 ? Math.floor(rnd() * Math.min(nodes.length, 50)) : pick;
    const n = b.node(nodes[parentIdx]!, f);
    hasChild[parentIdx] = 1;
    nodes.push(n);
    depth.push(depth[parentIdx]! + 1);
  }
  const locations: number[] = [];
  for (let i = 1; i < nodes.length; i++) {
    if (hasChild[i] === 1 && rnd() < 0.8) continue;
    const bytes = Math.floor(Math.exp(rnd() * 16) * 16);
    locations.push(b.add(nodes[i]!, Math.floor(rnd() * threads), rnd() < 0.5 ? 'malloc' : 'pymalloc', bytes, 1 + Math.floor(rnd() * 100)));
  }
  let rss = 200 * MiB;
  let heap = 100 * MiB;
  for (let i = 0; i < o.snapshots; i++) {
    rss = Math.max(50 * MiB, rss + Math.round(((rnd() - 0.495) * 2 * MiB) / 4096) * 4096);
    heap = Math.max(10 * MiB, heap + Math.round((rnd() - 0.495) * 1.5 * MiB));
    b.snapshot(i * 1e7, rss, Math.round((rss * 0.8) / 4096) * 4096, Math.round((rss * 0.2) / 4096) * 4096, heap);
  }
  const end = Math.max(o.snapshots, 1) * 1e7;
  for (let i = 0; i < 20; i++) b.marker(Math.floor(rnd() * end), i % 2 === 0 ? 'GC' : 'near OOM', `marker ${i}`);
  if (o.ticks !== undefined) {
    const ticks = o.ticks;
    const loc: number[] = [];
    const start: number[] = [];
    const stop: number[] = [];
    const count: number[] = [];
    const bytes: number[] = [];
    for (const l of locations) {
      const n = 1 + Math.floor(rnd() * 3);
      for (let k = 0; k < n; k++) {
        const s = Math.floor(rnd() * ticks);
        loc.push(l);
        start.push(s);
        stop.push(rnd() < 0.2 ? ticks : Math.min(ticks, s + 1 + Math.floor(rnd() * ticks * 0.3)));
        count.push(1 + Math.floor(rnd() * 10));
        bytes.push(Math.floor(Math.exp(rnd() * 14) * 16));
      }
    }
    const peak = new Float64Array(ticks + 1);
    for (let i = 0; i < loc.length; i++) {
      peak[start[i]!]! += bytes[i]!;
      peak[stop[i]!]! -= bytes[i]!;
    }
    for (let k = 1; k <= ticks; k++) peak[k]! += peak[k - 1]!;
    b.setTemporal({
      kind: 'peak',
      tickEnd: Float64Array.from({ length: ticks }, (_, k) => Math.round(((k + 1) * end) / ticks)),
      tickPeakHeap: peak.slice(0, ticks),
      tickPeakTime: Float64Array.from({ length: ticks }, (_, k) => Math.round(((k + 0.5) * end) / ticks)),
      location: Int32Array.from(loc),
      start: Int32Array.from(start),
      end: Int32Array.from(stop),
      count: Float64Array.from(count),
      bytes: Float64Array.from(bytes),
    });
  }
  return b.build(
    baseMeta({
      title: `synthetic profile: ${o.frames} frames, ${o.snapshots} snapshots`,
      durationNs: end,
      peakTimeNs: end / 2,
      commandLine: ['python3', 'synthetic.py'],
      cgroupLimitBytes: null,
    }),
  );
}
