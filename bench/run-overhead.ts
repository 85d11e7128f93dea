// How much slower a program runs under `memlens run` than under plain python3, and under memray for
// comparison; how big the captures are. Not a test: run it by hand (briefly; the machine is shared):
//
//   npx tsc -p tsconfig.json && node dist/bench/run-overhead.js [--python PY]... [--repeat N] [--fixed N] [--fixed-only] [--baseline ROOT] [--pip MEMLENS]... [--mode MODE]... [--no-aggregate] [--no-agent-only] [WORKLOAD...]
//
// Defaults: the benchmark virtualenv .cache/bench-venv (CPython 3.11 with numpy, memray and pyperformance;
// create it with `python3.11 -m venv .cache/bench-venv && .cache/bench-venv/bin/pip install memray numpy
// pyperformance`), three runs of each configuration, the median reported. Workloads are
// bench/workloads/*.py (pyperf_*.py run a pyperformance benchmark in-process, bench/pyperformance_run.py).
// The configurations of a workload run round robin (each once, then each again), so a busy minute of the
// shared machine falls on all of them. With several --python (a free-threaded build next to its GIL twin,
// say), each workload runs under each in turn; memray is the one installed in each python (run as
// `python -m memray`, which works wherever the venv was moved: its `memray` script's first line may name a
// path that no longer exists). --aggregate rows (memlens run --aggregate, memray run --aggregate) come
// after the others unless --no-aggregate.
//
// The fixed cost (--fixed N, default 15; 0 leaves it out): an empty script under python3, memlens run and
// memray run, alternating, N times each, median of the wall time and of the CPU time of the whole process
// tree (getrusage of the children, so that a busy machine's waiting is not counted), then what each tool
// adds to python3's own. --fixed-only: that alone, no workloads.
//
// memlens starts as its users start it: bin/memlens.js by its own first line (the node flags, and
// NODE_EXTRA_CA_CERTS set aside while node starts: src/util/extra-ca.ts).
//
// Columns: wall time of the whole command (memlens: node start, run, EXIT record and
// recompression; memray: its run and its own compression) and its ratio to plain python3; the CPU time
// (user + system of the command and its children, from /usr/bin/time) and its ratio: on a loaded machine
// the wall clock also counts waiting for a core; the capture size; for memray's rows, memlens's overhead
// over memray's (slowdown - 1 over slowdown - 1) in that mode, wall and CPU, with their geometric means at
// the end. "agent only" rows: the Python process alone with the agent (the bootstrap started directly, no
// node, the capture left uncompressed), without and with Python's allocators traced.
//
// --mode MODE (repeatable): only these modes (default, native, trace-python-allocators,
// native-trace-python-allocators, aggregate). --baseline ROOT (another memlens checkout, built): its
// `memlens run` and its agent alone run beside this one's in every workload too (rows marked "(baseline)"),
// round robin with the others, and its overhead over memray's gets a geomean of its own: before and after a
// change, measured side by side in one run.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORKLOADS = join(ROOT, 'bench', 'workloads');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

function args(name: string): string[] {
  return process.argv.flatMap((a, i) => (a === name && process.argv[i + 1] !== undefined ? [process.argv[i + 1] as string] : []));
}

const pythons = args('--python').length > 0 ? args('--python') : [join(ROOT, '.cache', 'bench-venv', 'bin', 'python3')];
const repeat = Number(arg('--repeat', '3'));
const fixedRuns = Number(arg('--fixed', '15'));
const aggregate = !process.argv.includes('--no-aggregate');
// --baseline ROOT: another memlens checkout (built), whose `memlens run` joins the fixed-cost rows and, in
// every mode, the workloads' rows (before and after, side by side in one run). --no-agent-only: without the
// rows of the agent alone.
const baseline = arg('--baseline', '');
// --pip PATH (repeatable): the `memlens` command of a virtualenv the wheel is installed in, whose `memlens
// run` joins the fixed-cost rows (the wheel's entry point: a Python launcher that execs node).
const pips = args('--pip');
const VALUED = new Set(['--python', '--repeat', '--fixed', '--baseline', '--mode', '--pip']);
const wantedModes = args('--mode');
const named = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !VALUED.has(all[i - 1] ?? ''));
const workloads = process.argv.includes('--fixed-only')
  ? []
  : (named.length > 0
      ? named
      : readdirSync(WORKLOADS)
          .filter((f) => f.endsWith('.py'))
          .map((f) => f.slice(0, -3))
    ).sort();

interface Timed {
  seconds: number;
  /** CPU time of the command and all its children (user + system), from /usr/bin/time; NaN without it. */
  cpu: number;
  bytes: number;
}

// /usr/bin/time reports the CPU of the whole command (for memlens: node, its compressor and the program),
// which on a loaded machine says more than the wall clock (that also counts waiting for a core).
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

function timeOnce(cmd: string, args: string[], output: string | undefined, env: Record<string, string | undefined> = process.env): Timed {
  if (output !== undefined) rmSync(output, { force: true });
  const cpuFile = join(dir, 'cpu.txt');
  const [c, a] = TIME !== undefined ? [TIME, ['-f', '%U %S', '-o', cpuFile, cmd, ...args]] : [cmd, args];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(c, a, { stdio: ['ignore', 'ignore', 'pipe'], env, encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
  let cpu = NaN;
  if (TIME !== undefined) {
    const [u, s] = readFileSync(cpuFile, 'utf8').trim().split(/\s+/).slice(-2).map(Number);
    cpu = (u ?? NaN) + (s ?? NaN);
  }
  return { seconds, cpu, bytes: output !== undefined && existsSync(output) ? statSync(output).size : 0 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const dir = mkdtempSync(join(tmpdir(), 'memlens-bench-'));
const memlens = join(ROOT, 'bin', 'memlens.js');
const agent = join(ROOT, 'agent', 'build', 'libmemlens_agent.so');
const loader = `import sys; sys.path.insert(0, ${JSON.stringify(join(ROOT, 'agent', 'python'))}); import memlens_bootstrap; memlens_bootstrap.main()`;
const hasMemrayCache = new Map<string, boolean>();
function hasMemray(python: string): boolean {
  let has = hasMemrayCache.get(python);
  if (has === undefined) {
    has = spawnSync(python, ['-c', 'import memray'], { stdio: 'ignore' }).status === 0;
    hasMemrayCache.set(python, has);
  }
  return has;
}

function fmtSize(n: number): string {
  return n === 0 ? '-' : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(2)} MiB`;
}

interface Config {
  name: string;
  mode: string;
  cmd: string;
  args: string[];
  output: string | undefined;
  env?: Record<string, string | undefined>;
  runs: Timed[];
}

const ALL_MODES: [string, string[]][] = [
  ['default', []],
  ['--native', ['--native']],
  ['--trace-python-allocators', ['--trace-python-allocators']],
  ['--native --trace-python-allocators', ['--native', '--trace-python-allocators']],
  ...(aggregate ? [['--aggregate', ['--aggregate']] as [string, string[]]] : []),
];
const MODES = ALL_MODES.filter(([m]) => wantedModes.length === 0 || wantedModes.includes(m.replace(/^--/, '').replace(/ --/g, '-')));

// Overhead (slowdown - 1) of memlens over memray's, per mode, wall and CPU, for the geomean at the end.
const ratios = new Map<string, { wall: number[]; cpu: number[] }>();

const rows: string[][] = [['workload', 'configuration', 'wall s', 'x plain', 'cpu s', 'cpu x', 'capture', 'ovh/memray']];
try {
  for (const w of workloads)
    for (const python of pythons) {
      const script = join(WORKLOADS, `${w}.py`);
      const memray = hasMemray(python);
      const tag = pythons.length > 1 ? ` (${python})` : '';
      const configs: Config[] = [{ name: 'python3', mode: '', cmd: python, args: [script], output: undefined, runs: [] }];
      for (const [mode, extra] of MODES) {
        const out = join(dir, `${w}.mlens`);
        configs.push({
          name: `memlens run ${mode}`,
          mode,
          cmd: memlens,
          args: ['run', '-q', '-f', '-o', out, '--python', python, ...extra, script],
          output: out,
          runs: [],
        });
        if (baseline !== '') {
          configs.push({
            name: `memlens run ${mode} (baseline)`,
            mode,
            cmd: join(baseline, 'bin', 'memlens.js'),
            args: ['run', '-q', '-f', '-o', out, '--python', python, ...extra, script],
            output: out,
            runs: [],
          });
        }
        if (memray) {
          const mout = join(dir, `${w}.memray.bin`);
          configs.push({ name: `memray run ${mode}`, mode, cmd: python, args: ['-m', 'memray', 'run', '-q', '-f', '-o', mout, ...extra, script], output: mout, runs: [] });
        }
      }
      if (baseline !== '')
        for (const [mode, extra] of MODES) {
          const out = join(dir, `${w}.baseline.mlens`);
          const args = ['run', '-q', '-f', '-o', out, '--python', python, ...extra, script];
          configs.push({ name: `baseline memlens run ${mode}`, mode, cmd: join(baseline, 'bin', 'memlens.js'), args, output: out, runs: [] });
        }
      if (!process.argv.includes('--no-agent-only')) {
        // The Python process alone with the agent, as `memlens run` starts it (no node, no recompression).
        const out = join(dir, `${w}.agent.mlens`);
        const env = { ...process.env, MEMLENS_BOOTSTRAP: JSON.stringify({ run: 'script', agent, output: out, overwrite: true }) };
        configs.push({ name: 'agent only (uncompressed)', mode: '', cmd: python, args: ['-c', loader, script], output: out, env, runs: [] });
        const penv = { ...process.env, MEMLENS_BOOTSTRAP: JSON.stringify({ run: 'script', agent, output: out, overwrite: true, trace_python_allocators: true }) };
        configs.push({ name: 'agent only --trace-python-allocators', mode: '', cmd: python, args: ['-c', loader, script], output: out, env: penv, runs: [] });
        if (baseline !== '') {
          const bagent = join(baseline, 'agent', 'build', 'libmemlens_agent.so');
          const bloader = `import sys; sys.path.insert(0, ${JSON.stringify(join(baseline, 'agent', 'python'))}); import memlens_bootstrap; memlens_bootstrap.main()`;
          const benv = { ...process.env, MEMLENS_BOOTSTRAP: JSON.stringify({ run: 'script', agent: bagent, output: out, overwrite: true, trace_python_allocators: true }) };
          configs.push({ name: 'agent only --trace-python-allocators (baseline)', mode: '', cmd: python, args: ['-c', bloader, script], output: out, env: benv, runs: [] });
        }
      }
      // Round robin: every configuration once, then again, so a busy minute of the machine falls on all of them.
      for (let i = 0; i < repeat; i++) for (const c of configs) c.runs.push(timeOnce(c.cmd, c.args, c.output, c.env));
      const plain = configs[0] as Config;
      const base = { wall: median(plain.runs.map((r) => r.seconds)), cpu: median(plain.runs.map((r) => r.cpu)) };
      const slow = new Map<string, { wall: number; cpu: number }>();
      for (const c of configs) {
        const wall = median(c.runs.map((r) => r.seconds));
        const cpu = median(c.runs.map((r) => r.cpu));
        slow.set(c.name, { wall: wall / base.wall, cpu: cpu / base.cpu });
        let vs = '';
        if (c.name.startsWith('memray run ')) {
          const m = slow.get(`memlens run ${c.mode}`) as { wall: number; cpu: number };
          const r = slow.get(c.name) as { wall: number; cpu: number };
          const wallRatio = (m.wall - 1) / (r.wall - 1);
          const cpuRatio = (m.cpu - 1) / (r.cpu - 1);
          const acc = ratios.get(c.mode) ?? { wall: [], cpu: [] };
          acc.wall.push(wallRatio);
          acc.cpu.push(cpuRatio);
          ratios.set(c.mode, acc);
          vs = `${wallRatio.toFixed(2)} (cpu ${cpuRatio.toFixed(2)})`;
          const b = slow.get(`memlens run ${c.mode} (baseline)`);
          if (b !== undefined) {
            const bw = (b.wall - 1) / (r.wall - 1);
            const bc = (b.cpu - 1) / (r.cpu - 1);
            const bacc = ratios.get(`${c.mode} (baseline)`) ?? { wall: [], cpu: [] };
            bacc.wall.push(bw);
            bacc.cpu.push(bc);
            ratios.set(`${c.mode} (baseline)`, bacc);
            vs += `; baseline ${bw.toFixed(2)} (cpu ${bc.toFixed(2)})`;
          }
        }
        const last = c.runs[c.runs.length - 1] as Timed;
        rows.push([w, c.name + tag, wall.toFixed(3), (wall / base.wall).toFixed(2), cpu.toFixed(3), (cpu / base.cpu).toFixed(2), fmtSize(last.bytes), vs]);
        // As it goes, on stderr: a long run interrupted still leaves the workloads it finished.
        console.error((rows[rows.length - 1] as string[]).join('\t'));
      }
    }
  if (fixedRuns > 0) for (const python of pythons) fixedCost(python);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * What running an empty script costs under each tool beyond python3's own: the three alternate, so that
 * they share the machine's minutes. Wall and CPU time of the whole process tree (tree_rusage.py).
 */
function fixedCost(python: string): void {
  const empty = join(dir, 'empty.py');
  writeFileSync(empty, 'pass\n');
  const rusage = join(ROOT, 'bench', 'tree_rusage.py');
  const tag = pythons.length > 1 ? ` (${python})` : '';
  const out = join(dir, 'empty.capture');
  // memlens as its users start it: the npm package's bin/memlens.js by its own first line (which sets the
  // node flags and the environment node starts with), and the wheel's `memlens` command (--pip).
  const runArgs = ['run', '-q', '-f', '-o', out, '--python', python, empty];
  const commands: [string, string[]][] = [
    ['python3', [python, empty]],
    ['memlens run', [memlens, ...runArgs]],
  ];
  if (baseline !== '') commands.push([`memlens run (${baseline})`, [join(baseline, 'bin', 'memlens.js'), ...runArgs]]);
  for (const p of pips) commands.push([`memlens run (${p})`, [p, ...runArgs]]);
  if (hasMemray(python)) commands.push(['memray run', [python, '-m', 'memray', 'run', '-q', '-f', '-o', out, empty]]);
  const runs = commands.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
  for (let i = 0; i < fixedRuns; i++) {
    commands.forEach(([, cmd], k) => {
      rmSync(out, { force: true });
      const r = spawnSync(python, [rusage, ...cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr}`);
      const { wall, cpu } = JSON.parse(r.stdout) as { wall: number; cpu: number };
      runs[k]!.wall.push(wall);
      runs[k]!.cpu.push(cpu);
    });
  }
  const base = { wall: median(runs[0]!.wall), cpu: median(runs[0]!.cpu) };
  commands.forEach(([name], k) => {
    const wall = median(runs[k]!.wall);
    const cpu = median(runs[k]!.cpu);
    const extra = k === 0 ? '' : `, +${((wall - base.wall) * 1000).toFixed(0)} ms wall, +${((cpu - base.cpu) * 1000).toFixed(0)} ms CPU`;
    rows.push(['fixed cost (empty script)', `${name}${tag}`, wall.toFixed(3), (wall / base.wall).toFixed(2), cpu.toFixed(3), (cpu / base.cpu).toFixed(2), `CPU ${(cpu * 1000).toFixed(0)} ms${extra}`, '']);
  });
}

const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
for (const r of rows) console.log(r.map((cell, c) => (c >= 2 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  '));
for (const python of pythons) {
  console.log(`${basename(python)}: ${python}${hasMemray(python) ? '' : ' (memray is not installed in it: its rows are left out)'}`);
}
const geomean = (xs: number[]): number => Math.exp(xs.reduce((a, x) => a + Math.log(Math.max(x, 1e-3)), 0) / xs.length);
for (const [mode, r] of ratios) {
  console.log(
    `memlens overhead / memray overhead, ${mode}: geomean wall ${geomean(r.wall).toFixed(2)} (worst ${Math.max(...r.wall).toFixed(2)}), cpu ${geomean(r.cpu).toFixed(2)} (worst ${Math.max(...r.cpu).toFixed(2)})`,
  );
}
console.log(`${repeat} runs each, round robin, median${fixedRuns > 0 ? `; the fixed cost: ${fixedRuns} runs each, median` : ''}.`);
