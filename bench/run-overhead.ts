// How much slower a program runs under `memlens run` than under plain python3, and under memray for
// comparison; how big the captures are. Not a test: run it by hand (briefly; the machine is shared):
//
//   npx tsc -p tsconfig.json && node dist/bench/run-overhead.js [--python PY]... [--repeat N] [--fixed N] [--fixed-only] [--baseline ROOT] [--no-aggregate] [WORKLOAD...]
//
// Defaults: the benchmark virtualenv .cache/bench-venv (CPython 3.11 with numpy and memray; create it
// with `python3.11 -m venv .cache/bench-venv && .cache/bench-venv/bin/pip install memray numpy`), three
// runs of each configuration, the median reported. Workloads are bench/workloads/*.py. With several
// --python (a free-threaded build next to its GIL twin, say), each workload runs under each in turn, so the
// ratios of both come from the same minutes of a shared machine; memray is the one installed in each python
// (run as `python -m memray`, which works wherever the venv was moved: its `memray` script's first line may
// name a path that no longer exists). --aggregate rows (memlens run --aggregate, memray run --aggregate)
// come after the others unless --no-aggregate.
//
// The fixed cost (--fixed N, default 15; 0 leaves it out): an empty script under python3, memlens run and
// memray run, alternating, N times each, median of the wall time and of the CPU time of the whole process
// tree (getrusage of the children, so that a busy machine's waiting is not counted), then what each tool
// adds to python3's own. --fixed-only: that alone, no workloads.
//
// Columns: wall time of the whole command (memlens: node start, run, EXIT record and
// recompression; memray: its run and its own compression), the same for the Python process alone with
// the agent (the bootstrap started directly, no node), and the capture size.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../src/util/node-flags.js';

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
// --baseline ROOT: another memlens checkout (built), whose `memlens run` joins the fixed-cost rows.
const baseline = arg('--baseline', '');
const VALUED = new Set(['--python', '--repeat', '--fixed', '--baseline']);
const named = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !VALUED.has(all[i - 1] ?? ''));
const workloads = process.argv.includes('--fixed-only') ? [] : (named.length > 0 ? named : readdirSync(WORKLOADS).filter((f) => f.endsWith('.py')).map((f) => f.slice(0, -3))).sort();

interface Timed {
  seconds: number;
  bytes: number;
}

function timeOnce(cmd: string, args: string[], output: string | undefined, env: Record<string, string | undefined> = process.env): Timed {
  if (output !== undefined) rmSync(output, { force: true });
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env, encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return { seconds, bytes: output !== undefined && existsSync(output) ? statSync(output).size : 0 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function measure(cmd: string, args: string[], output: string | undefined, env?: Record<string, string | undefined>): Timed {
  const runs: Timed[] = [];
  for (let i = 0; i < repeat; i++) runs.push(timeOnce(cmd, args, output, env));
  return { seconds: median(runs.map((r) => r.seconds)), bytes: runs[runs.length - 1]?.bytes ?? 0 };
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
  return n === 0 ? '-' : n < 1 << 20 ? `${(n / 1024).toFixed(0)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;
}

const rows: string[][] = [['workload', 'configuration', 'wall s', 'x plain', 'capture']];
try {
  for (const w of workloads) for (const python of pythons) {
    const script = join(WORKLOADS, `${w}.py`);
    const memray = hasMemray(python);
    const tag = pythons.length > 1 ? ` (${python})` : '';
    const plain = measure(python, [script], undefined);
    rows.push([w, `python3${tag}`, plain.seconds.toFixed(3), '1.00', '-']);
    const configs: [string, string[]][] = [
      ['memlens run', []],
      ['memlens run --native', ['--native']],
      ['memlens run --trace-python-allocators', ['--trace-python-allocators']],
      ['memlens run --native --trace-python-allocators', ['--native', '--trace-python-allocators']],
    ];
    if (aggregate) configs.push(['memlens run --aggregate', ['--aggregate']]);
    for (const [name, extra] of configs) {
      const out = join(dir, `${w}.mlens`);
      const t = measure(process.execPath, [...NODE_FLAGS, memlens, 'run', '-q', '-f', '-o', out, '--python', python, ...extra, script], out);
      rows.push([w, name + tag, t.seconds.toFixed(3), (t.seconds / plain.seconds).toFixed(2), fmtSize(t.bytes)]);
    }
    {
      // The Python process alone with the agent, as `memlens run` starts it (no node, no recompression).
      const out = join(dir, `${w}.agent.mlens`);
      const env = { ...process.env, MEMLENS_BOOTSTRAP: JSON.stringify({ run: 'script', agent, output: out, overwrite: true }) };
      const t = measure(python, ['-c', loader, script], out, env);
      rows.push([w, `agent only (uncompressed)${tag}`, t.seconds.toFixed(3), (t.seconds / plain.seconds).toFixed(2), fmtSize(t.bytes)]);
    }
    if (memray) {
      const mconfigs: [string, string[]][] = [
        ['memray run', []],
        ['memray run --native', ['--native']],
        ['memray run --trace-python-allocators', ['--trace-python-allocators']],
        ['memray run --native --trace-python-allocators', ['--native', '--trace-python-allocators']],
      ];
      if (aggregate) mconfigs.push(['memray run --aggregate', ['--aggregate']]);
      for (const [name, extra] of mconfigs) {
        const out = join(dir, `${w}.memray.bin`);
        const t = measure(python, ['-m', 'memray', 'run', '-q', '-f', '-o', out, ...extra, script], out);
        rows.push([w, name + tag, t.seconds.toFixed(3), (t.seconds / plain.seconds).toFixed(2), fmtSize(t.bytes)]);
      }
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
  const commands: [string, string[]][] = [
    ['python3', [python, empty]],
    ['memlens run', [process.execPath, ...NODE_FLAGS, memlens, 'run', '-q', '-f', '-o', out, '--python', python, empty]],
  ];
  if (baseline !== '') commands.push([`memlens run (${baseline})`, [process.execPath, ...NODE_FLAGS, join(baseline, 'bin', 'memlens.js'), 'run', '-q', '-f', '-o', out, '--python', python, empty]]);
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
    rows.push(['fixed cost (empty script)', `${name}${tag}`, wall.toFixed(3), (wall / base.wall).toFixed(2), `CPU ${(cpu * 1000).toFixed(0)} ms${extra}`]);
  });
}

const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
for (const r of rows) console.log(r.map((cell, c) => (c >= 2 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  '));
for (const python of pythons) {
  console.log(`${basename(python)}: ${python}${hasMemray(python) ? '' : ' (memray is not installed in it: its rows are left out)'}`);
}
console.log(`${repeat} runs each, median${fixedRuns > 0 ? `; the fixed cost: ${fixedRuns} runs each, median` : ''}.`);
