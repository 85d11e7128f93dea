// Time and peak memory of memlens's reports against memray's closest commands, on captures of the same
// workload made by both, side by side: `summary`, `stats`, `flamegraph` (memlens's default page has the
// per-moment data of its time windows, so it is measured against `memray flamegraph --temporal`, and with
// --no-temporal against memray's default page) and `verdict` (against `memray summary`, the closest: where
// the memory was at the peak). Each command runs as its own process under /usr/bin/time (wall seconds,
// maximum resident set size, CPU seconds: user + system), memlens and memray in turn, several times; the
// table shows the median wall and CPU times, the largest RSS, each run's CPU time and RSS (to a tenth of a
// MiB: the peaks differ by less than one), and memray's CPU time over memlens's (on a loaded machine the
// wall time is mostly waiting for a core; the CPU time is the work done).
//
// memlens starts as its launchers start it (bin/memlens.js's first line, the wheel's python/memlens/_cli.py):
// NODE_EXTRA_CA_CERTS set aside in MLENS_CA while node starts (src/util/extra-ca.ts), so a machine that sets
// it measures what its users get; --keep-extra-ca starts node with it, as `node bin/memlens.js` does (node
// then parses the certificates at start: about 2 MiB of RSS with Debian's bundle). memray's environment is
// left as it is (Python does not read the variable).
//
// --baseline ROOT also runs another built checkout's memlens (ROOT/bin/memlens.js: main's, say) in the same turns,
// and adds its column and the two ratios: this tree's CPU time and peak against the baseline's.
//
// Anonymous and file-backed memory (bench/proc-memory.ts): max RSS counts node's executable and libraries
// (~34 MiB of file pages before a line of JavaScript runs: `node -e 0`) as much as the report's own memory,
// so on a small live set it compares the runtimes more than the reports. While each command runs, the
// process tree under /usr/bin/time (memlens: the one node process, since it starts with NODE_FLAGS and so
// does not relaunch itself, src/util/node-flags.ts; a relaunch would add its parent's ~40 MiB to the sums;
// memray: the one `python -m memray` process) is sampled every --sample-ms milliseconds (20 by default, 0:
// not sampled) from /proc/PID/status, and the columns after the ones above give, for memlens, memray and
// the baseline:
//   anon A / file F MiB: the largest RssAnon (heaps, stacks, V8's spaces, malloc's arenas) and the largest
//     RssFile (mapped files: the executable, its libraries) of the tree, summed over its processes, in any one
//     sample; largest over the runs, with each run's anon peak when there are several (and shmem, if any);
//   (HWM H, N samples): the largest VmHWM seen (the kernel's own peak RSS, which should be near the max RSS
//     column) and the samples taken over the runs (", K processes" when a sample found more than one;
//     ", ≥X of the peak unseen" when a run's VmHWM exceeds its anon + file + shmem peaks by 1 MiB or more: its
//     peak fell between two samples, and its anon peak may be up to X higher);
//   anon: memlens − memray: the anonymous peaks' difference.
// Sampling can miss a spike shorter than the interval (a buffer freed within 20 ms, the last moments before
// exit), so these peaks are lower bounds; the kernel keeps no high-water mark of RssAnon or RssFile alone, and
// an exited process's memory cannot be read from outside. The maximum RSS from wait4 (the columns above)
// stays the main figure; the split says what of it is the report's own memory.
//
// Run: node dist/bench/report-speed.js [--runs N] [--only summary,stats,flamegraph,no-temporal,verdict] [--baseline ROOT] [--keep-extra-ca] [--sample-ms MS] [--memray 'PYTHON -m memray'] NAME=MEMLENS_CAPTURE[,MEMRAY_CAPTURE] ...
//      node dist/bench/report-speed.js --synthetic EVENTS OUT.mlens   (writes a realistic synthetic capture)
// Figures go to docs/benchmarks.md by hand, with the machine they were measured on.

import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeRealistic } from '../test/support/synthetic.js';
import { NODE_FLAGS } from '../src/util/node-flags.js';
import { anonDifference, canListChildren, formatPeaks, TreeSampler, type MemoryPeaks } from './proc-memory.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const memlens = join(root, 'bin', 'memlens.js');

interface Measure {
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly maxRssKb: number;
  /** Every run's CPU seconds and maximum RSS, in run order. */
  readonly cpu: readonly number[];
  readonly rssKb: readonly number[];
}

interface Sample {
  readonly times: number[];
  readonly cpu: number[];
  readonly rss: number[];
  /** Each run's anonymous and file-backed peaks (bench/proc-memory.ts), when sampled. */
  readonly mem: MemoryPeaks[];
}

function newSample(): Sample {
  return { times: [], cpu: [], rss: [], mem: [] };
}

/** The environment memlens's launchers give node: NODE_EXTRA_CA_CERTS set aside in MLENS_CA (see the top). */
function launcherEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const ca = env['NODE_EXTRA_CA_CERTS'];
  return ca === undefined || ca === '' ? env : { ...env, MLENS_CA: ca, NODE_EXTRA_CA_CERTS: '' };
}

/** Runs `cmd` under /usr/bin/time (and the sampler every sampleMs, unless 0) and adds its figures to `into`. */
async function once(cmd: string, args: readonly string[], into: Sample, sampleMs: number, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-bench-'));
  const out = join(dir, 'time');
  try {
    // spawn, not spawnSync: the sampler runs on this process's event loop while the command runs.
    const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', '-o', out, cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...env, COLUMNS: '120' } });
    const sampler = sampleMs > 0 && child.pid !== undefined ? new TreeSampler(child.pid, sampleMs) : undefined;
    const stderr: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => stderr.push(b));
    const status = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve(code));
    }).finally(() => {
      const peaks = sampler?.stop();
      if (peaks !== undefined) into.mem.push(peaks);
    });
    if (status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${status}): ${Buffer.concat(stderr).toString().slice(-500)}`);
    const [secs, user, sys, kb] = readFileSync(out, 'utf8').trim().split(/\s+/).slice(-4).map(Number) as [number, number, number, number];
    into.times.push(secs);
    into.cpu.push(user + sys);
    into.rss.push(kb);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function middle(values: readonly number[]): number {
  const t = [...values].sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)] as number;
}

function median(s: Sample): Measure {
  return { seconds: middle(s.times), cpuSeconds: middle(s.cpu), maxRssKb: Math.max(...s.rss), cpu: s.cpu, rssKb: s.rss };
}

function fmt(m: Measure | undefined): string {
  if (m === undefined) return '–';
  const each = (xs: readonly number[], f: (x: number) => string): string => xs.map(f).join('/');
  // Every run's figures beside the median and the largest: the peaks differ by tenths of a MiB.
  return `${m.seconds.toFixed(2)} s (CPU ${m.cpuSeconds.toFixed(2)} s: ${each(m.cpu, (c) => c.toFixed(2))}), ${(m.maxRssKb / 1024).toFixed(1)} MiB (${each(m.rssKb, (kb) => (kb / 1024).toFixed(1))})`;
}

interface Pair {
  /** The name --only picks it by. */
  readonly key: string;
  readonly name: string;
  readonly memlens: readonly string[];
  /** memray's arguments; undefined: no memray capture given. */
  readonly memray: readonly string[] | undefined;
}

function pairs(mlens: string, memray: string | undefined, html: string): Pair[] {
  const m = (f: (capture: string) => string[]): string[] | undefined => (memray === undefined ? undefined : f(memray));
  return [
    { key: 'summary', name: 'summary', memlens: ['summary', mlens], memray: m((c) => ['summary', c]) },
    { key: 'stats', name: 'stats', memlens: ['stats', mlens], memray: m((c) => ['stats', c]) },
    { key: 'flamegraph', name: 'flamegraph (memray: --temporal)', memlens: ['flamegraph', '-f', '-o', html, mlens], memray: m((c) => ['flamegraph', '--temporal', '-f', '-o', html, c]) },
    { key: 'no-temporal', name: 'flamegraph --no-temporal (memray: its default)', memlens: ['flamegraph', '--no-temporal', '-f', '-o', html, mlens], memray: m((c) => ['flamegraph', '-f', '-o', html, c]) },
    { key: 'verdict', name: 'verdict (memray: summary)', memlens: ['verdict', mlens], memray: m((c) => ['summary', c]) },
  ];
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === '--synthetic') {
    const events = Number(argv[1]);
    const out = argv[2];
    if (!Number.isInteger(events) || out === undefined) throw new Error('usage: --synthetic EVENTS OUT.mlens');
    const fd = openSync(out, 'w');
    const r = writeRealistic({ events, threads: 4, seed: 7, sink: (b) => writeSync(fd, b) });
    closeSync(fd);
    console.log(`${out}: ${r.allocs + r.frees} events, ${(r.bytes / 1e6).toFixed(1)} MB`);
    return;
  }
  let runs = 3;
  let baseline: string | undefined;
  let keepCa = false;
  let memray = 'memray';
  let sampleMs = 20;
  let only: Set<string> | undefined;
  const cases: { name: string; mlens: string; memray: string | undefined }[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--runs' || a === '--repeat') runs = Number(argv[++i]);
    else if (a === '--baseline') {
      baseline = join(argv[++i] ?? '', 'bin', 'memlens.js');
      if (!existsSync(baseline)) throw new Error(`no built memlens at ${baseline}`);
    } else if (a === '--memray') memray = argv[++i] as string;
    else if (a === '--keep-extra-ca') keepCa = true;
    else if (a === '--only') {
      only = new Set((argv[++i] ?? '').split(','));
      const known = pairs('', undefined, '').map((p) => p.key);
      const unknown = [...only].filter((k) => !known.includes(k));
      if (unknown.length > 0) throw new Error(`--only takes commands among ${known.join(',')}: not ${unknown.join(',')}`);
    } else if (a === '--sample-ms') {
      sampleMs = Number(argv[++i]);
      if (!Number.isInteger(sampleMs) || sampleMs < 0) throw new Error('--sample-ms takes a whole number of milliseconds (0: no sampling)');
    } else {
      const [name, files] = a.split('=') as [string, string | undefined];
      const [mlens, mr] = (files ?? '').split(',');
      if (mlens === undefined || mlens === '' || !existsSync(mlens)) throw new Error(`no memlens capture for ${name}`);
      cases.push({ name, mlens, memray: mr !== undefined && mr !== '' ? mr : undefined });
    }
  }
  if (sampleMs > 0 && !canListChildren()) {
    process.stderr.write('report-speed: this kernel does not list children in /proc/PID/task/TID/children: anon/file not sampled\n');
    sampleMs = 0;
  }
  const [memrayCmd, ...memrayPre] = memray.split(' ').filter((w) => w !== '') as [string, ...string[]];
  const memlensEnv = keepCa ? process.env : launcherEnv(process.env);
  const htmlDir = mkdtempSync(join(tmpdir(), 'memlens-bench-html-'));
  const html = join(htmlDir, 'page.html');
  const base = baseline !== undefined ? ' baseline | CPU: this / baseline | peak: this − baseline |' : '';
  // The anon/file columns come after the ones of earlier rounds, which keep their places.
  const split = ` memlens anon / file (peaks) | memray anon / file | anon: memlens − memray |${baseline !== undefined ? ' baseline anon / file | anon: this − baseline |' : ''}`;
  console.log(`| capture | command | memlens | memray | memray CPU time / memlens CPU time |${base}${split}`);
  console.log(`|---|---|---|---|---|${baseline !== undefined ? '---|---|---|' : ''}---|---|---|${baseline !== undefined ? '---|---|' : ''}`);
  try {
    for (const c of cases) {
      const size = `${(statSync(c.mlens).size / 1e6).toFixed(0)} MB${c.memray !== undefined ? ` / ${(statSync(c.memray).size / 1e6).toFixed(0)} MB` : ''}`;
      for (const p of pairs(c.mlens, c.memray, html)) {
        if (only !== undefined && !only.has(p.key)) continue;
        const ml = newSample();
        const mr = newSample();
        const bl = newSample();
        // In turn, so that a slow moment of the machine falls on all.
        for (let i = 0; i < runs; i++) {
          await once(process.execPath, [...NODE_FLAGS, memlens, ...p.memlens], ml, sampleMs, memlensEnv);
          if (baseline !== undefined) await once(process.execPath, [...NODE_FLAGS, baseline, ...p.memlens], bl, sampleMs, memlensEnv);
          if (p.memray !== undefined) await once(memrayCmd, [...memrayPre, ...p.memray], mr, sampleMs);
        }
        const a = median(ml);
        const b = p.memray !== undefined ? median(mr) : undefined;
        const ratio = b !== undefined ? `${(b.cpuSeconds / a.cpuSeconds).toFixed(2)}×` : '–';
        let vs = '';
        if (baseline !== undefined) {
          const m = median(bl);
          const sum = (xs: readonly number[]): number => xs.reduce((x, y) => x + y, 0);
          // CPU: the sums over the runs; peak: the largest of each, in MiB.
          vs = ` ${fmt(m)} | ${(sum(a.cpu) / sum(m.cpu)).toFixed(3)} | ${((a.maxRssKb - m.maxRssKb) / 1024).toFixed(1)} MiB |`;
        }
        let splitCells = ` ${formatPeaks(ml.mem)} | ${formatPeaks(mr.mem)} | ${anonDifference(ml.mem, mr.mem)} |`;
        if (baseline !== undefined) splitCells += ` ${formatPeaks(bl.mem)} | ${anonDifference(ml.mem, bl.mem)} |`;
        console.log(`| ${c.name} (${size}) | ${p.name} | ${fmt(a)} | ${fmt(b)} | ${ratio} |${vs}${splitCells}`);
      }
    }
  } finally {
    rmSync(htmlDir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
