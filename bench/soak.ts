// The sampled agent's own memory over a day of a service, compressed in time (docs/benchmarks.md, "Sampled
// mode: soak"): bench/soak_service.py plays 1,440 minutes of a service (threads per job, requests from
// stacks that keep changing, a cache replaced as it goes) under `memlens run --sample-rate R --push URL -o
// FILE`, pushing a profile every second to the Pyroscope stand-in of the push tests (built by the test
// setup). The agent's memory is read back from its AGENT_STATS records (written every second: the agent's
// own mmap'd bytes); memlens's own (Node) resident memory is read from /proc every second; the pushed
// profiles' sizes from what the receiver got. Whether memlens's memory is bounded: node runs with --trace-gc,
// and the heap V8 keeps after each full (mark-compact) collection is its live JavaScript data, which a leak
// would make grow; the resident size also counts V8's free space and buffers outside its heap, which
// collections return only when V8 chooses. Not a test: run it by hand.
//
//   npx tsc -p tsconfig.json && node dist/bench/soak.js [--minutes N] [--requests PER_MINUTE] [--python PY] [--rate SIZE]

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeqOrderer } from '../src/capture/order.js';
import type { AgentStatsRecord, MetaRecord } from '../src/capture/records.js';
import { readCaptureFile } from '../src/cli/capture-file.js';
import { NODE_FLAGS } from '../src/util/node-flags.js';
import { startPyroscopeReceiver } from '../test/support/push-backends.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

const python = arg('--python', join(ROOT, '.cache', 'bench-venv', 'bin', 'python3'));
const minutes = Number(arg('--minutes', '1440'));
const rate = arg('--rate', '512K');
const requests = arg('--requests', '2000');
const dir = mkdtempSync(join(tmpdir(), 'memlens-soak-'));
const capture = join(dir, 'soak.mlens');
const received = join(dir, 'received');
const backend = await startPyroscopeReceiver(received);
try {
  const t0 = Date.now();
  const child = spawn(
    process.execPath,
    [
      ...NODE_FLAGS,
      '--trace-gc',
      join(ROOT, 'bin', 'memlens.js'),
      'run',
      '-q',
      '--no-compress',
      '--sample-rate',
      rate,
      '--push',
      backend.url,
      '--push-interval',
      '1',
      '-o',
      capture,
      '--python',
      python,
      join(ROOT, 'bench', 'soak_service.py'),
      String(minutes),
      requests,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  // `... Mark-Compact 45.1 (60.2) -> 30.4 (58.0) MB, ...`: the heap after a full collection (MB of 10^6 B).
  const liveAfterGc: number[] = [];
  const committedAfterGc: number[] = [];
  let pending = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s: string) => {
    const lines = (pending + s).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const m = /Mark-Compact[^\d]*[\d.]+ \([\d.]+\) -> ([\d.]+) \(([\d.]+)\) MB/.exec(line);
      if (m !== null) {
        liveAfterGc.push(Number(m[1]) * 1e6);
        committedAfterGc.push(Number(m[2]) * 1e6);
      } else if (!/^\[\d+:0x[0-9a-f]+\]/.test(line)) process.stdout.write(`${line}\n`);
    }
  });
  const nodeRss: number[] = [];
  const poll = setInterval(() => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m !== null) nodeRss.push(Number(m[1]) * 1024);
    } catch {
      // it ended
    }
  }, 1000);
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  clearInterval(poll);
  if (code !== 0) throw new Error(`memlens run failed (${code})`);
  const seconds = (Date.now() - t0) / 1000;
  const sizes = readdirSync(received)
    .filter((f) => f.endsWith('.pb.gz'))
    .map((f) => statSync(join(received, f)).size)
    .sort((a, b) => a - b);
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
  console.log(`${minutes} simulated minutes (${requests} requests each) in ${seconds.toFixed(0)} s; ${threads} threads; capture ${mib(read.bytes)}; ${stats.length} AGENT_STATS records`);
  console.log('| share of the run | agent memory |');
  console.log('|---|---|');
  for (const share of [0, 0.1, 0.25, 0.5, 0.75, 0.9, 1]) {
    const s = stats[Math.min(stats.length - 1, Math.round(share * (stats.length - 1)))];
    if (s !== undefined) console.log(`| ${Math.round(share * 100)} % (${(s.timeNs / 1e9).toFixed(0)} s) | ${mib(s.agentMemoryBytes)} |`);
  }
  const peak = Math.max(...stats.map((s) => s.agentMemoryBytes));
  const secondHalf = stats.slice(Math.floor(stats.length / 2)).map((s) => s.agentMemoryBytes);
  console.log(`peak ${mib(peak)}; second half of the run: ${mib(Math.min(...secondHalf))} to ${mib(Math.max(...secondHalf))}; dropped events ${stats[stats.length - 1]?.droppedEvents ?? 0}`);
  const half = nodeRss.slice(Math.floor(nodeRss.length / 2));
  console.log(`memlens (node) RSS: first reading ${mib(nodeRss[0] ?? 0)}, peak ${mib(Math.max(...nodeRss))}, second half ${mib(Math.min(...half))} to ${mib(Math.max(...half))}`);
  const q = (xs: readonly number[], share: number): number => xs[Math.min(xs.length - 1, Math.round(share * (xs.length - 1)))] ?? 0;
  console.log(
    `memlens (node) V8 heap after each full collection (${liveAfterGc.length}): at 10 % of them ${mib(q(liveAfterGc, 0.1))}, 25 % ${mib(q(liveAfterGc, 0.25))}, 50 % ${mib(q(liveAfterGc, 0.5))}, ` +
      `75 % ${mib(q(liveAfterGc, 0.75))}, last ${mib(q(liveAfterGc, 1))}; second half ${mib(Math.min(...liveAfterGc.slice(liveAfterGc.length >> 1)))} to ${mib(Math.max(...liveAfterGc.slice(liveAfterGc.length >> 1)))}`,
  );
  console.log(`memlens (node) V8 heap committed after each full collection: first ${mib(committedAfterGc[0] ?? 0)}, largest ${mib(Math.max(...committedAfterGc))}, last ${mib(q(committedAfterGc, 1))}`);
  const rssAt = (share: number): string => mib(q(nodeRss, share));
  console.log(`memlens (node) RSS at 10 % ${rssAt(0.1)}, 25 % ${rssAt(0.25)}, 50 % ${rssAt(0.5)}, 75 % ${rssAt(0.75)}, 90 % ${rssAt(0.9)}, end ${rssAt(1)}`);
  console.log(`pushed profiles: ${sizes.length}, gzipped size median ${sizes[Math.floor(sizes.length / 2)] ?? 0} B, largest ${sizes[sizes.length - 1] ?? 0} B`);
} finally {
  await backend.stop();
  rmSync(dir, { recursive: true, force: true });
}
