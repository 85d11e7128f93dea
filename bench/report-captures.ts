// Captures of several shapes for bench/report-speed.ts: each workload of bench/report-workloads/ run under
// `memlens run` and under `memray run`, both with Python's allocators traced, at a size that makes about 50 M
// allocation events (allocations + frees, as `memlens stats` counts them). Issue 15's report goals were
// measured on one capture (bench/workload.py, 240 k allocations live at its peak); a report's cost follows
// the shape of the capture as much as its length: how many allocations are live at once (the live table),
// how many threads (streams), how many distinct stacks, native allocations among Python's.
//
//   npm run build && node dist/bench/report-captures.js DIR [--python PY] [--only NAME]... [--scale F] [--tool memlens|memray] [--count]
//
// Writes DIR/NAME.mlens and DIR/NAME.bin for every workload (the old ones removed first, so that a failed
// run never leaves last time's capture behind to be measured), then prints on stdout the arguments of
// bench/report-speed.js, one line: `NAME=DIR/NAME.mlens,DIR/NAME.bin ...`. Progress goes to stderr.
//
// --python: the interpreter (default: the benchmark virtualenv .cache/bench-venv, as bench/run-overhead.ts;
// it has memray and numpy). --only NAME (repeatable): these workloads alone. --scale F: every size times F
// (0.01 for a quick try). --tool: one tool's captures alone (memray's then print as absent: `NAME=X.mlens`).
// --count: after each memlens capture, its events by `memlens stats` on stderr.
// memlens starts as its users start it (bin/memlens.js, NODE_EXTRA_CA_CERTS set aside by its launcher);
// memray as `PY -m memray`, which works wherever the virtualenv was moved (bench/run-overhead.ts).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WORKLOAD_DIR = join(ROOT, 'bench', 'report-workloads');

export interface Workload {
  readonly name: string;
  /** The script's argument for about 50 M events with Python's allocators traced (CPython 3.11). */
  readonly size: number;
  readonly shape: string;
}

// Events (allocations + frees, `memlens stats`) of the captures at these sizes, CPython 3.11.7 of the bench
// venv: accumulate 50.09 M, rolling_window 49.65 M, churn 50.64 M, threads 50.57 M, call_sites 50.06 M,
// numpy_mix 49.99 M (docs/benchmarks.md, round seventeen, "Report workloads of six shapes"); tree (round
// twenty-eight) is the exception, below.
export const WORKLOADS: readonly Workload[] = [
  { name: 'accumulate', size: 3_850_000, shape: 'accumulation: ~4.8 M allocations live at the peak' },
  { name: 'rolling_window', size: 4_100_000, shape: 'rolling window: ~530 k allocations live, replaced many times' },
  { name: 'churn', size: 2_400_000, shape: 'churn: a tiny live set (a few thousand)' },
  { name: 'threads', size: 2_880_000, shape: '32 threads churning at once' },
  { name: 'call_sites', size: 148_000, shape: '400 generated functions, stacks 20-60 deep' },
  { name: 'numpy_mix', size: 1_230_000, shape: "numpy arrays (numpy's allocator) among Python objects" },
  // ~8.4 M events, not 50 M: memray's summary of this size already takes ~5.7 GB (round twenty-eight).
  { name: 'tree', size: 1_048_575, shape: 'the dense case: a recursive tree of ~1 M distinct stacks, freed at exit' },
];

export type Tool = 'memlens' | 'memray';

export interface Options {
  readonly dir: string;
  readonly python: string;
  readonly workloads: readonly Workload[];
  readonly scale: number;
  readonly tools: readonly Tool[];
  readonly count: boolean;
}

const VALUED = new Set(['--python', '--only', '--scale', '--tool']);

/** The command line's options; throws with a usage message on anything it does not know. */
export function parseArgs(argv: readonly string[]): Options {
  const usage = 'usage: report-captures DIR [--python PY] [--only NAME]... [--scale F] [--tool memlens|memray] [--count]';
  let dir: string | undefined;
  let python = join(ROOT, '.cache', 'bench-venv', 'bin', 'python3');
  let scale = 1;
  let tools: Tool[] = ['memlens', 'memray'];
  let count = false;
  const only: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (VALUED.has(a)) {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value; ${usage}`);
      if (a === '--python') python = v;
      else if (a === '--only') only.push(v);
      else if (a === '--scale') {
        scale = Number(v);
        if (!Number.isFinite(scale) || scale <= 0) throw new Error(`--scale ${v}: not a positive number`);
      } else if (v === 'memlens' || v === 'memray') tools = [v];
      else throw new Error(`--tool ${v}: memlens or memray`);
    } else if (a === '--count') count = true;
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}; ${usage}`);
    else if (dir === undefined) dir = a;
    else throw new Error(`one directory only (${dir}, ${a}); ${usage}`);
  }
  if (dir === undefined) throw new Error(usage);
  const unknown = only.filter((n) => !WORKLOADS.some((w) => w.name === n));
  if (unknown.length > 0) throw new Error(`no workload ${unknown.join(', ')} (${WORKLOADS.map((w) => w.name).join(', ')})`);
  const workloads = only.length === 0 ? WORKLOADS : WORKLOADS.filter((w) => only.includes(w.name));
  return { dir: resolve(dir), python, workloads, scale, tools, count };
}

/** A workload's argument at this scale (at least 1). */
export function scaledSize(w: Workload, scale: number): number {
  return Math.max(1, Math.round(w.size * scale));
}

export interface Capture {
  readonly workload: Workload;
  readonly tool: Tool;
  readonly output: string;
  readonly cmd: string;
  readonly args: readonly string[];
}

/** The captures to make, in order: each workload under memlens, then under memray. */
export function plan(o: Options): Capture[] {
  const memlens = join(ROOT, 'bin', 'memlens.js');
  return o.workloads.flatMap((w) => {
    const script = join(WORKLOAD_DIR, `${w.name}.py`);
    const size = String(scaledSize(w, o.scale));
    return o.tools.map((tool): Capture => {
      const output = join(o.dir, `${w.name}.${tool === 'memlens' ? 'mlens' : 'bin'}`);
      return tool === 'memlens'
        ? { workload: w, tool, output, cmd: memlens, args: ['run', '-q', '--trace-python-allocators', '--python', o.python, '-o', output, script, size] }
        : { workload: w, tool, output, cmd: o.python, args: ['-m', 'memray', 'run', '-q', '--trace-python-allocators', '-o', output, script, size] };
    });
  });
}

/** bench/report-speed.js's arguments for these captures: NAME=X.mlens[,X.bin]. */
export function speedArgs(o: Options): string[] {
  return o.workloads.map((w) => {
    const mlens = join(o.dir, `${w.name}.mlens`);
    return o.tools.includes('memray') ? `${w.name}=${mlens},${join(o.dir, `${w.name}.bin`)}` : `${w.name}=${mlens}`;
  });
}

/** Allocations + frees of a memlens capture, as `memlens stats` counts them (its JSON, not its text). */
export function countEvents(capture: string): number {
  const r = spawnSync(join(ROOT, 'bin', 'memlens.js'), ['stats', '--json', capture], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`memlens stats --json ${capture} failed: ${r.stderr}`);
  const s = JSON.parse(r.stdout) as { total_num_allocations: number; total_frees: number };
  return s.total_num_allocations + s.total_frees;
}

export function makeCaptures(o: Options): void {
  mkdirSync(o.dir, { recursive: true });
  for (const c of plan(o)) {
    rmSync(c.output, { force: true });
    const t0 = process.hrtime.bigint();
    const r = spawnSync(c.cmd, c.args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    const secs = (Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1);
    if (r.status !== 0 || !existsSync(c.output)) throw new Error(`${c.cmd} ${c.args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.slice(-500)}`);
    const events = o.count && c.tool === 'memlens' ? `, ${countEvents(c.output).toLocaleString('en')} events` : '';
    process.stderr.write(`${c.workload.name} (${c.workload.shape}; ${c.tool}): ${c.output} in ${secs} s${events}\n`);
  }
}

// Run as a program (not when a test imports it).
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const o = parseArgs(process.argv.slice(2));
  makeCaptures(o);
  console.log(speedArgs(o).join(' '));
}
