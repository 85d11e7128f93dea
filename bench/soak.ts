// The sampled agent's own memory over a day of a service, compressed in time (docs/benchmarks.md, "Sampled
// mode: soak"): bench/soak_service.py plays 1,440 minutes of a service (a thread per job, requests from
// stacks that keep changing, a cache replaced as it goes) under `memlens run --sample`, and the agent's
// memory is read back from its AGENT_STATS records (written every second: the agent's own mmap'd bytes).
// Not a test: run it by hand.
//
//   npx tsc -p tsconfig.json && node dist/bench/soak.js [--minutes N] [--python PY] [--rate SIZE]

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeqOrderer } from '../src/capture/order.js';
import type { AgentStatsRecord, MetaRecord } from '../src/capture/records.js';
import { readCaptureFile } from '../src/cli/capture-file.js';
import { NODE_FLAGS } from '../src/cli/node-flags.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

const python = arg('--python', join(ROOT, '.cache', 'bench-venv', 'bin', 'python3'));
const minutes = Number(arg('--minutes', '1440'));
const rate = arg('--rate', '512K');
const dir = mkdtempSync(join(tmpdir(), 'memlens-soak-'));
const capture = join(dir, 'soak.mlens');
try {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [...NODE_FLAGS, join(ROOT, 'bin', 'memlens.js'), 'run', '-q', '--no-compress', '--sample-rate', rate, '-o', capture, '--python', python, join(ROOT, 'bench', 'soak_service.py'), String(minutes)], {
    encoding: 'utf8',
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`memlens run failed (${r.status ?? r.signal})`);
  const seconds = (Date.now() - t0) / 1000;
  const stats: AgentStatsRecord[] = [];
  let threads = 0;
  const visitor = {
    alloc: () => undefined,
    free: () => undefined,
    meta: (m: MetaRecord) => {
      if (m.type === 'agent-stats') stats.push(m);
      if (m.type === 'thread') threads++;
    },
  };
  const orderer = new SeqOrderer(visitor);
  const read = await readCaptureFile(capture, orderer);
  orderer.end();
  const mib = (n: number): string => `${(n / 1048576).toFixed(2)} MiB`;
  console.log(`${minutes} simulated minutes in ${seconds.toFixed(0)} s; ${threads} threads; capture ${mib(read.bytes)}; ${stats.length} AGENT_STATS records`);
  console.log('| share of the run | agent memory |');
  console.log('|---|---|');
  for (const share of [0, 0.1, 0.25, 0.5, 0.75, 0.9, 1]) {
    const s = stats[Math.min(stats.length - 1, Math.round(share * (stats.length - 1)))];
    if (s !== undefined) console.log(`| ${Math.round(share * 100)} % (${(s.timeNs / 1e9).toFixed(0)} s) | ${mib(s.agentMemoryBytes)} |`);
  }
  const peak = Math.max(...stats.map((s) => s.agentMemoryBytes));
  const secondHalf = stats.slice(Math.floor(stats.length / 2)).map((s) => s.agentMemoryBytes);
  console.log(`peak ${mib(peak)}; second half of the run: ${mib(Math.min(...secondHalf))} to ${mib(Math.max(...secondHalf))}; dropped events ${stats[stats.length - 1]?.droppedEvents ?? 0}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
