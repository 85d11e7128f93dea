// How much slower a program runs under `memlens run` than under plain python3, and under memray for
// comparison; how big the captures are. Not a test: run it by hand (briefly; the machine is shared):
//
//   npx tsc -p tsconfig.json && node dist/bench/run-overhead.js [--python PY]... [--memray MEMRAY] [--repeat N] [WORKLOAD...]
//
// Defaults: the benchmark virtualenv .cache/bench-venv (CPython 3.11 with numpy and memray; create it
// with `python3.11 -m venv .cache/bench-venv && .cache/bench-venv/bin/pip install memray numpy`), three
// runs of each configuration, the median reported. Workloads are bench/workloads/*.py. With several
// --python (a free-threaded build next to its GIL twin, say), each workload runs under each in turn, so the
// ratios of both come from the same minutes of a shared machine; memray is the one beside each python.
//
// Columns: wall time of the whole command (memlens: node start, preflight, run, EXIT record and
// recompression; memray: its run and its own compression), the same for the Python process alone with
// the agent (the bootstrap started directly, no node), and the capture size.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
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
const named = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(all[i - 1] ?? '').startsWith('--'));
const workloads = (named.length > 0 ? named : readdirSync(WORKLOADS).filter((f) => f.endsWith('.py')).map((f) => f.slice(0, -3))).sort();

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
const memrayOf = (python: string): string => (pythons.length === 1 ? arg('--memray', join(dirname(python), 'memray')) : join(dirname(python), 'memray'));

function fmtSize(n: number): string {
  return n === 0 ? '-' : n < 1 << 20 ? `${(n / 1024).toFixed(0)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;
}

const rows: string[][] = [['workload', 'configuration', 'wall s', 'x plain', 'capture']];
try {
  for (const w of workloads) for (const python of pythons) {
    const script = join(WORKLOADS, `${w}.py`);
    const memray = memrayOf(python);
    const hasMemray = existsSync(memray);
    const tag = pythons.length > 1 ? ` (${python})` : '';
    const plain = measure(python, [script], undefined);
    rows.push([w, `python3${tag}`, plain.seconds.toFixed(3), '1.00', '-']);
    const configs: [string, string[]][] = [
      ['memlens run', []],
      ['memlens run --native', ['--native']],
      ['memlens run --trace-python-allocators', ['--trace-python-allocators']],
      ['memlens run --native --trace-python-allocators', ['--native', '--trace-python-allocators']],
    ];
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
    if (hasMemray) {
      const mconfigs: [string, string[]][] = [
        ['memray run', []],
        ['memray run --native', ['--native']],
        ['memray run --trace-python-allocators', ['--trace-python-allocators']],
        ['memray run --native --trace-python-allocators', ['--native', '--trace-python-allocators']],
      ];
      for (const [name, extra] of mconfigs) {
        const out = join(dir, `${w}.memray.bin`);
        const t = measure(memray, ['run', '-q', '-f', '-o', out, ...extra, script], out);
        rows.push([w, name + tag, t.seconds.toFixed(3), (t.seconds / plain.seconds).toFixed(2), fmtSize(t.bytes)]);
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
for (const r of rows) console.log(r.map((cell, c) => (c >= 2 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  '));
for (const python of pythons) {
  console.log(`${basename(python)}: ${python}${existsSync(memrayOf(python)) ? '' : ' (memray not found beside it: its rows are left out)'}`);
}
console.log(`${repeat} runs each, median.`);
