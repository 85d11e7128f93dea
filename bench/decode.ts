// The decoder's speed and memory on a big capture: generates a synthetic capture of at least 1 GB and
// 100 million records with the encoder (the realistic generator of test/support/synthetic.ts: a few
// threads, varied sizes and stacks, frames, snapshots, barriers), writes it to a temporary file, decodes
// it from the file in a child process (so the child's peak RSS is the decoder's alone), removes the file.
//
// Run: node dist/bench/decode.js [--events N] [--order] [--keep FILE]
//   --events N   ALLOC/FREE records to generate (default: enough for 1.05 GB)
//   --order      also decode through the SeqOrderer (a second child)
// Child mode (internal): node dist/bench/decode.js --decode FILE [--order]

import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeqOrderer } from '../src/capture/order.js';
import type { CaptureVisitor } from '../src/capture/records.js';
import { readCaptureFile } from '../src/cli/capture-file.js';
import { writeRealistic } from '../test/support/synthetic.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

/** Work a real consumer does per record, so nothing is optimized away. */
class Counter implements CaptureVisitor {
  records = 0;
  allocs = 0;
  frees = 0;
  bytes = 0;
  alloc(_stream: number, _seq: number, _address: number, size: number): void {
    this.allocs++;
    this.bytes += size;
  }
  free(): void {
    this.frees++;
  }
  meta(): void {
    this.records++;
  }
}

async function child(file: string, order: boolean): Promise<void> {
  const c = new Counter();
  const visitor = order ? new SeqOrderer(c) : c;
  let peakRss = process.memoryUsage.rss();
  const t0 = performance.now();
  const r = await readCaptureFile(file, visitor, {
    progress: { update: () => void (peakRss = Math.max(peakRss, process.memoryUsage.rss())), finish: () => undefined },
  });
  if (visitor instanceof SeqOrderer) visitor.end();
  const ms = performance.now() - t0;
  const records = c.records + c.allocs + c.frees;
  process.stdout.write(JSON.stringify({ ms, records, hot: c.allocs + c.frees, bytes: r.bytes, warnings: r.warnings, peakRssSampled: peakRss, maxRss: process.resourceUsage().maxRSS * 1024 }) + '\n');
}

interface ChildResult {
  ms: number;
  records: number;
  hot: number;
  bytes: number;
  warnings: number;
  peakRssSampled: number;
  maxRss: number;
}

function runChild(file: string, order: boolean): ChildResult {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [self, '--decode', file, ...(order ? ['--order'] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`decode child failed: ${r.status ?? r.signal}`);
  return JSON.parse(r.stdout) as ChildResult;
}

function report(label: string, c: ChildResult): void {
  const s = c.ms / 1000;
  console.log(
    `${label}: ${(c.records / 1e6).toFixed(1)} M records in ${s.toFixed(2)} s = ${(c.records / s / 1e6).toFixed(1)} M records/s, ` +
      `${(c.bytes / s / 1e6).toFixed(0)} MB/s; peak RSS ${(c.maxRss / 1048576).toFixed(0)} MiB (sampled ${(c.peakRssSampled / 1048576).toFixed(0)} MiB); warnings ${c.warnings}`,
  );
}

function parent(): void {
  const events = Number(flag('--events') ?? 190_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'memlens-bench-'));
  const file = join(dir, 'bench.mlens');
  try {
    const fd = openSync(file, 'w');
    const t0 = performance.now();
    const g = writeRealistic({ events, threads: 4, seed: 11, sink: (b) => void writeSync(fd, b) });
    closeSync(fd);
    const genS = (performance.now() - t0) / 1000;
    const size = statSync(file).size;
    console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores), node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
    console.log(
      `generated: ${(g.records / 1e6).toFixed(1)} M records (${((g.allocs + g.frees) / 1e6).toFixed(1)} M ALLOC/FREE), ${(size / 1e9).toFixed(2)} GB in ${genS.toFixed(1)} s; ` +
        `${(g.hotBytes / (g.allocs + g.frees)).toFixed(2)} bytes per ALLOC/FREE record, ${(size / g.records).toFixed(2)} bytes per record with framing and meta records`,
    );
    report('decode (file → decoder → visitor)', runChild(file, false));
    if (args.includes('--order')) report('decode + seq order (file → decoder → SeqOrderer → visitor)', runChild(file, true));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const decodeFile = flag('--decode');
if (decodeFile !== undefined) await child(decodeFile, args.includes('--order'));
else parent();
