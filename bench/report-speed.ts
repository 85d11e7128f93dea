// Time and peak memory of `memlens summary` and `memlens stats`, and of `memray summary` and `memray stats`
// when memray captures are given, side by side. Each command runs as its own process under /usr/bin/time
// (wall seconds, maximum resident set size), several times; the table shows the median time and the
// largest RSS.
//
// Run: node dist/bench/report-speed.js [--runs N] [--memray PATH/TO/memray] NAME=MEMLENS_CAPTURE[,MEMRAY_CAPTURE] ...
//      node dist/bench/report-speed.js --synthetic EVENTS OUT.mlens   (writes a realistic synthetic capture)
// Figures go to docs/benchmarks.md by hand, with the machine they were measured on.

import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeRealistic } from '../test/support/synthetic.js';
import { NODE_FLAGS } from '../src/util/node-flags.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const memlens = join(root, 'bin', 'memlens.js');

interface Measure {
  readonly seconds: number;
  readonly maxRssKb: number;
}

function measure(cmd: string, args: readonly string[], runs: number): Measure {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-bench-'));
  const out = join(dir, 'time');
  const times: number[] = [];
  let rss = 0;
  try {
    for (let i = 0; i < runs; i++) {
      const r = spawnSync('/usr/bin/time', ['-f', '%e %M', '-o', out, cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, COLUMNS: '120' } });
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.toString().slice(-500)}`);
      const [secs, kb] = readFileSync(out, 'utf8').trim().split(/\s+/).slice(-2).map(Number) as [number, number];
      times.push(secs);
      rss = Math.max(rss, kb);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  times.sort((a, b) => a - b);
  return { seconds: times[Math.floor(times.length / 2)] as number, maxRssKb: rss };
}

function fmt(m: Measure | undefined): string {
  return m === undefined ? '–' : `${m.seconds.toFixed(2)} s, ${(m.maxRssKb / 1024).toFixed(0)} MiB`;
}

function main(argv: string[]): void {
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
  let memray = 'memray';
  const cases: { name: string; mlens: string; memray: string | undefined }[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--runs') runs = Number(argv[++i]);
    else if (a === '--memray') memray = argv[++i] as string;
    else {
      const [name, files] = a.split('=') as [string, string | undefined];
      const [mlens, mr] = (files ?? '').split(',');
      if (mlens === undefined || mlens === '' || !existsSync(mlens)) throw new Error(`no memlens capture for ${name}`);
      cases.push({ name, mlens, memray: mr !== undefined && mr !== '' ? mr : undefined });
    }
  }
  console.log('| capture | size | memlens summary | memray summary | memlens stats | memray stats |');
  console.log('|---|---|---|---|---|---|');
  for (const c of cases) {
    const size = `${(statSync(c.mlens).size / 1e6).toFixed(0)} MB${c.memray !== undefined ? ` / ${(statSync(c.memray).size / 1e6).toFixed(0)} MB` : ''}`;
    const ms = measure(process.execPath, [...NODE_FLAGS, memlens, 'summary', c.mlens], runs);
    const mst = measure(process.execPath, [...NODE_FLAGS, memlens, 'stats', c.mlens], runs);
    const rs = c.memray !== undefined ? measure(memray, ['summary', c.memray], runs) : undefined;
    const rst = c.memray !== undefined ? measure(memray, ['stats', c.memray], runs) : undefined;
    console.log(`| ${c.name} | ${size} | ${fmt(ms)} | ${fmt(rs)} | ${fmt(mst)} | ${fmt(rst)} |`);
  }
}

main(process.argv.slice(2));
