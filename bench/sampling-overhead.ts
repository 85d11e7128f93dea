// What the sampled mode costs (docs/sampling.md, docs/benchmarks.md "Sampled mode: cost"): pyperformance
// benchmarks and the project's workloads, each run plain, under the sampled agent, under the exact agent
// and under memray, side by side in one run (the configurations of a benchmark alternate, repeat after
// repeat), so that the ratios compare like with like on a shared machine. Not a test: run it by hand.
//
//   npx tsc -p tsconfig.json && node dist/bench/sampling-overhead.js [--repeat N] [--rate SIZE] [--clock cpu|wall] [BENCHMARK...]
//
// Setup: .cache/bench-venv, a virtualenv with memray, pyperformance (for its benchmark scripts and pyperf)
// and numpy from PyPI: `python3.11 -m venv .cache/bench-venv && .cache/bench-venv/bin/pip install memray
// pyperformance numpy`.
//
// pyperformance benchmarks run as pyperf workers in the measured process (`run_benchmark.py --worker`,
// loops calibrated once, plain): the figure is pyperf's own timing of the benchmark, the median of its
// values, so process start-up is not in it. Workloads (bench/workloads/*.py) are timed from their first
// line to their last by bench/timed_run.py, in the process, for the same reason. The agent
// runs in the Python process as `memlens run` starts it (the bootstrap, configured by MEMLENS_BOOTSTRAP),
// writing its capture to a file; memray is `memray run -f -o FILE` (its default mode).
//
// --clock cpu (the default): every timing is the process's CPU time (all threads: the agent's service
// thread and memray's own are counted), not the wall clock: on a machine shared with other jobs the wall
// clock also counts the time a run waited for a core, which varies by ±40 % from run to run there. pyperf's
// workers read it through bench/cpu_clock.py (time.perf_counter becomes time.process_time).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORKLOADS = join(ROOT, 'bench', 'workloads');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

const python = arg('--python', join(ROOT, '.cache', 'bench-venv', 'bin', 'python3'));
const memray = join(dirname(python), 'memray');
const repeat = Number(arg('--repeat', '3'));
const rate = Number(arg('--rate', String(512 * 1024)));
const clock = arg('--clock', 'cpu');
if (clock !== 'cpu' && clock !== 'wall') throw new Error(`--clock: cpu or wall, not ${clock}`);
const CPU_CLOCK = join(ROOT, 'bench', 'cpu_clock.py');
const named = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(all[i - 1] ?? '').startsWith('--'));

const PYPERFORMANCE = ['chaos', 'deltablue', 'fannkuch', 'float', 'go', 'hexiom', 'json_dumps', 'json_loads', 'nbody', 'nqueens', 'pyflate', 'raytrace', 'richards', 'spectral_norm', 'deepcopy', 'logging'];
const BENCH_ROOT = spawnSync(python, ['-c', 'import pyperformance, os; print(os.path.dirname(pyperformance.__file__))'], { encoding: 'utf8' }).stdout.trim();
const dir = mkdtempSync(join(tmpdir(), 'memlens-sampling-bench-'));
const agent = join(ROOT, 'agent', 'build', 'libmemlens_agent.so');
const loader = `import sys; sys.path.insert(0, ${JSON.stringify(join(ROOT, 'agent', 'python'))}); import memlens_bootstrap; memlens_bootstrap.main()`;

type Config = 'python3' | 'memlens sampled' | 'memlens exact' | 'memray';
const CONFIGS: readonly Config[] = ['python3', 'memlens sampled', 'memlens exact', 'memray'];

/** The command line of `script args` under a configuration. */
function command(config: Config, script: string, args: readonly string[]): { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
  const out = join(dir, 'capture');
  rmSync(out, { force: true });
  switch (config) {
    case 'python3':
      return { cmd: python, args: [script, ...args], env: process.env };
    case 'memray':
      return { cmd: memray, args: ['run', '-q', '-f', '-o', out, script, ...args], env: process.env };
    default: {
      const sampled = config === 'memlens sampled';
      const boot = { run: 'script', agent, output: out, overwrite: true, ...(sampled ? { sample_rate: rate, sample_exact: 4 * rate } : {}) };
      return { cmd: python, args: ['-c', loader, script, ...args], env: { ...process.env, MEMLENS_BOOTSTRAP: JSON.stringify(boot) } };
    }
  }
}

/** Runs `script args`; returns the seconds timed_run.py reported (workloads), or 0. */
function run(config: Config, script: string, args: readonly string[]): number {
  const c = command(config, script, args);
  const r = spawnSync(c.cmd, c.args, { env: c.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  if (r.status !== 0) throw new Error(`${config}: ${c.cmd} ${c.args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
  const m = /memlens-bench-seconds (\S+) (\S+)/.exec(r.stderr);
  return Number((clock === 'cpu' ? m?.[2] : m?.[1]) ?? 0);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** pyperf's values (seconds per loop) of one worker run, from its JSON output. */
function pyperfValues(file: string): number[] {
  const j = JSON.parse(readFileSync(file, 'utf8')) as { benchmarks: { runs: { values?: number[] }[] }[] };
  return j.benchmarks.flatMap((b) => b.runs.flatMap((r) => r.values ?? []));
}

interface Row {
  readonly name: string;
  readonly kind: 'pyperformance' | 'workload';
  readonly seconds: Record<Config, number>;
}
const rows: Row[] = [];

try {
  const benches = named.length > 0 ? named.filter((n) => PYPERFORMANCE.includes(n)) : PYPERFORMANCE;
  for (const b of benches) {
    const script = join(BENCH_ROOT, 'data-files', 'benchmarks', `bm_${b}`, 'run_benchmark.py');
    const calib = spawnSync(python, [...(clock === 'cpu' ? [CPU_CLOCK] : []), script, '--worker', '--calibrate-loops'], { encoding: 'utf8', cwd: dir });
    const loops = Number(/Calibration: (\d+) loops?/.exec(calib.stdout + calib.stderr)?.[1] ?? '1');
    const samples: Record<Config, number[]> = { python3: [], 'memlens sampled': [], 'memlens exact': [], memray: [] };
    for (let i = 0; i < repeat; i++) {
      for (const config of CONFIGS) {
        const out = join(dir, 'pyperf.json');
        rmSync(out, { force: true });
        const worker = ['--worker', '-l', String(loops), '-n', '5', '-w', '1', '-o', out];
        if (clock === 'cpu') run(config, CPU_CLOCK, [script, ...worker]);
        else run(config, script, worker);
        samples[config].push(median(pyperfValues(out)));
      }
    }
    rows.push({ name: b, kind: 'pyperformance', seconds: Object.fromEntries(CONFIGS.map((c) => [c, median(samples[c])])) as Record<Config, number> });
    console.error(`${b}: ${JSON.stringify(rows[rows.length - 1]?.seconds)}`);
  }
  const workloads =
    named.length > 0
      ? named.filter((n) => existsSync(join(WORKLOADS, `${n}.py`)))
      : readdirSync(WORKLOADS)
          .filter((f) => f.endsWith('.py'))
          .map((f) => f.slice(0, -3))
          .sort();
  for (const w of workloads) {
    const script = join(WORKLOADS, `${w}.py`);
    const samples: Record<Config, number[]> = { python3: [], 'memlens sampled': [], 'memlens exact': [], memray: [] };
    for (let i = 0; i < repeat; i++) for (const config of CONFIGS) samples[config].push(run(config, join(ROOT, 'bench', 'timed_run.py'), [script]));
    rows.push({ name: w, kind: 'workload', seconds: Object.fromEntries(CONFIGS.map((c) => [c, median(samples[c])])) as Record<Config, number> });
    console.error(`${w}: ${JSON.stringify(rows[rows.length - 1]?.seconds)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const geomean = (xs: readonly number[]): number => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
console.log(`| benchmark | python3 | memlens sampled (${rate / 1024} KiB) | memlens exact | memray |`);
console.log('|---|---|---|---|---|');
for (const r of rows) {
  const base = r.seconds.python3;
  const cell = (c: Config): string => `${(r.seconds[c] / base).toFixed(3)}×`;
  console.log(
    `| ${r.name}${r.kind === 'workload' ? ' (workload)' : ''} | ${base < 1 ? `${(base * 1000).toFixed(1)} ms` : `${base.toFixed(2)} s`} | ${cell('memlens sampled')} | ${cell('memlens exact')} | ${cell('memray')} |`,
  );
}
for (const [label, filter] of [
  ['geomean, pyperformance', (r: Row) => r.kind === 'pyperformance'],
  ['geomean, workloads', (r: Row) => r.kind === 'workload'],
  ['geomean, all', () => true],
] as const) {
  const rs = rows.filter(filter);
  if (rs.length === 0) continue;
  const g = (c: Config): string => `${geomean(rs.map((r) => r.seconds[c] / r.seconds.python3)).toFixed(3)}×`;
  console.log(`| **${label}** (${rs.length}) | 1 | **${g('memlens sampled')}** | ${g('memlens exact')} | ${g('memray')} |`);
}
console.log(`\n${python}; ${repeat} repeats, median; ${clock === 'cpu' ? 'CPU time of the process' : 'wall time'}; pyperformance: pyperf worker values (5 values, 1 warm-up, loops calibrated plain).`);
