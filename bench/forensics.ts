// What the verdict's replay observers cost: the replay of a capture (decode, order, replay) with no
// observer, with each of the forensic observers alone, and with all of them (as `memlens verdict` and the
// HTML report run them; `summary` runs them without recent growth), each in a fresh process, several
// times. Prints the median CPU time and the largest RSS.
//
// Run: node dist/bench/forensics.js [--runs N] CAPTURE...
//      node dist/bench/forensics.js --synthetic EVENTS OUT.mlens   (a realistic synthetic capture)

import { spawnSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ForensicsObserver } from '../src/analysis/forensics.js';
import { GcFrees } from '../src/analysis/gc-frees.js';
import { LargeLifetimes } from '../src/analysis/large-lifetimes.js';
import { LiveSeries } from '../src/analysis/live-series.js';
import { ReallocGrowth } from '../src/analysis/realloc-growth.js';
import { RecentGrowth } from '../src/analysis/recent-growth.js';
import { type Io, NO_INPUT } from '../src/cli/io.js';
import { loadModel } from '../src/cli/load-model.js';
import type { ReplayObserver } from '../src/model/replay-observer.js';
import { writeRealistic } from '../test/support/synthetic.js';

const KINDS: Record<string, () => (ReplayObserver & { finish(): unknown }) | undefined> = {
  none: () => undefined,
  'recent growth': () => new RecentGrowth(5e9),
  'gc frees': () => new GcFrees(),
  'large lifetimes': () => new LargeLifetimes(),
  'realloc growth': () => new ReallocGrowth(),
  'live series': () => new LiveSeries(),
  'all (verdict)': () => new ForensicsObserver(),
  'all but recent (summary)': () => new ForensicsObserver({ noRecentGrowth: true }),
};

const quiet: Io = { stdin: NO_INPUT, stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: '/', now: () => performance.now() };

async function child(kind: string, path: string): Promise<void> {
  const make = KINDS[kind];
  if (make === undefined) throw new Error(`unknown kind ${kind}`);
  const c0 = process.cpuUsage();
  const observer = make();
  await loadModel(quiet, path, { observer });
  observer?.finish();
  const c = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ cpuMs: (c.user + c.system) / 1000, rssMiB: process.memoryUsage().rss / 1048576 }) + '\n');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function mainBench(argv: string[]): Promise<void> {
  if (argv[0] === '--child') return child(argv[1] as string, argv[2] as string);
  if (argv[0] === '--synthetic') {
    const events = Number(argv[1]);
    const out = argv[2];
    if (!Number.isInteger(events) || out === undefined) throw new Error('usage: --synthetic EVENTS OUT.mlens');
    const fd = openSync(out, 'w');
    const r = writeRealistic({ events, threads: 4, seed: 7, sink: (b) => writeSync(fd, b) });
    closeSync(fd);
    console.log(`${out}: ${r.allocs + r.frees} events`);
    return;
  }
  let runs = 3;
  const paths: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') runs = Number(argv[++i]);
    else paths.push(argv[i] as string);
  }
  if (paths.length === 0) throw new Error('usage: node dist/bench/forensics.js [--runs N] CAPTURE...');
  const self = fileURLToPath(import.meta.url);
  for (const path of paths) {
    console.log(`\n${path}`);
    console.log('| observers | CPU (median) | RSS (largest) |');
    console.log('|---|---|---|');
    let base = 0;
    for (const kind of Object.keys(KINDS)) {
      const cpu: number[] = [];
      let rss = 0;
      for (let r = 0; r < runs; r++) {
        const p = spawnSync(process.execPath, [self, '--child', kind, path], { encoding: 'utf8' });
        if (p.status !== 0) throw new Error(`${kind} on ${path} failed: ${p.stderr}`);
        const m = JSON.parse(p.stdout) as { cpuMs: number; rssMiB: number };
        cpu.push(m.cpuMs);
        rss = Math.max(rss, m.rssMiB);
      }
      const med = median(cpu);
      if (kind === 'none') base = med;
      const delta = kind === 'none' ? '' : ` (${med >= base ? '+' : ''}${(((med - base) / base) * 100).toFixed(0)}%)`;
      console.log(`| ${kind} | ${med.toFixed(0)} ms${delta} | ${rss.toFixed(0)} MiB |`);
    }
  }
}

await mainBench(process.argv.slice(2));
