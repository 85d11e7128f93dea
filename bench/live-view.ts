// What the live view costs: a synthetic capture (the realistic generator of test/support/synthetic.ts)
// replayed once as a report reads it (decoder → orderer → builder → finish), and once through LiveSession
// in 64 KiB chunks with a view() every `--every` chunks, as a terminal redrawing several times a second
// would ask. Prints the replay times, the view() times (median, 95th percentile, max) and the model's
// size when the views were taken.
//
// Run: node dist/bench/live-view.js [--events N] [--threads N] [--every CHUNKS] [--wide SITES]
//   --wide SITES   instead of the realistic generator, a capture where SITES distinct stacks (25 frames
//                  deep, 2,000 functions) each hold live memory: what a big service looks like to view().
//   --keep FILE    also write the capture to FILE

import { SeqOrderer } from '../src/capture/order.js';
import { CaptureDecoder } from '../src/capture/decoder.js';
import { LiveSession } from '../src/live/live-session.js';
import { ModelBuilder } from '../src/model/builder.js';
import { lineTableResolver } from '../src/model/lines.js';
import { CaptureWriter } from '../src/capture/encoder.js';
import { TEST_HEADER, writeRealistic } from '../test/support/synthetic.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const events = flag('--events', 4_000_000);
const threads = flag('--threads', 4);
const every = flag('--every', 16);
const CHUNK = 64 * 1024;

const wide = flag('--wide', 0);

/** SITES stacks of depth 25 over 2,000 functions, on 4 threads; allocations held (a few freed). */
function wideCapture(sites: number, allocs: number): Uint8Array {
  const w = new CaptureWriter({ header: { ...TEST_HEADER, unknownFields: [], options: 0 } });
  let x = 7;
  const rand = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
  for (let c = 1; c <= 2000; c++) {
    w.meta({
      type: 'code',
      stream: 1,
      codeId: c,
      name: `f${c}`,
      qualname: `Mod${c % 50}.f${c}`,
      filename: `/srv/app/pkg${c % 30}/mod${c % 200}.py`,
      firstLineNo: c,
      linetableKind: 3,
      linetable: new Uint8Array(0),
    });
  }
  const leaves: { stream: number; node: number }[] = [];
  for (let t = 1; t <= 4; t++) {
    w.meta({ type: 'thread', stream: t, osTid: 100 + t, pythonIdent: t, name: t === 1 ? 'MainThread' : `worker-${t}`, timeNs: 0 });
    // A tree: each new stack shares a prefix with an earlier one.
    const nodes: number[][] = [];
    for (let s = 0; s < sites / 4; s++) {
      const base = nodes.length > 0 && rand(4) > 0 ? (nodes[rand(nodes.length)] as number[]) : [];
      const keep = Math.min(base.length, rand(25));
      const chain = base.slice(0, keep);
      let parent = chain.length > 0 ? (chain[chain.length - 1] as number) : 0;
      while (chain.length < 25) {
        parent = w.frame(t, parent, 1 + rand(2000), rand(200) * 2);
        chain.push(parent);
      }
      nodes.push(chain);
      leaves.push({ stream: t, node: parent });
    }
  }
  let seq = 0;
  const live: number[] = [];
  for (let i = 0; i < allocs; i++) {
    const leaf = leaves[rand(leaves.length)] as { stream: number; node: number };
    const addr = 0x10000000 + i * 64;
    w.alloc(leaf.stream, ++seq, addr, 32 + rand(4000), 0, leaf.node, 0);
    live.push(addr);
    if (rand(10) === 0) w.free(leaf.stream, ++seq, live.splice(rand(live.length), 1)[0] as number, 0, 0);
    if (i % 2000 === 0) {
      w.meta({
        type: 'snapshot',
        stream: 0,
        seq: seq + 1,
        timeNs: i * 10_000,
        rss: 100 << 20,
        rssAnon: 80 << 20,
        rssFile: 20 << 20,
        rssShmem: 0,
        swap: undefined,
        heap: undefined,
        cgroupUsage: undefined,
        cgroupLimit: undefined,
      });
      w.flushAll();
      w.barrier(seq + 1);
    }
  }
  w.flushAll();
  return w.finish();
}

let bytes: Uint8Array;
const keep = args.indexOf('--keep') >= 0 ? args[args.indexOf('--keep') + 1] : undefined;
if (wide > 0) {
  bytes = wideCapture(wide, Math.max(wide * 5, 200_000));
  console.log(`capture: ${wide.toLocaleString('en-US')} stacks of 25 frames, ${(bytes.length / 1048576).toFixed(1)} MiB`);
} else {
  const parts: Uint8Array[] = [];
  const gen = writeRealistic({ events, threads, seed: 3, sink: (b) => parts.push(b) });
  bytes = Buffer.concat(parts);
  console.log(`capture: ${gen.allocs.toLocaleString('en-US')} allocations, ${gen.frees.toLocaleString('en-US')} frees, ${(bytes.length / 1048576).toFixed(1)} MiB`);
}

function replayOnce(): number {
  const t0 = performance.now();
  const builder = new ModelBuilder({ lineResolver: lineTableResolver() });
  const orderer = new SeqOrderer(builder);
  const decoder = new CaptureDecoder(orderer);
  for (let at = 0; at < bytes.length; at += CHUNK) decoder.feed(bytes.subarray(at, at + CHUNK));
  decoder.end();
  orderer.end();
  builder.finish();
  return performance.now() - t0;
}

if (keep !== undefined) (await import('node:fs')).writeFileSync(keep, bytes);
const replayMs = Math.min(replayOnce(), replayOnce());
console.log(`replay and finish (best of 2): ${replayMs.toFixed(0)} ms, ${((bytes.length / 1048576 / replayMs) * 1000).toFixed(1)} MiB/s`);

const session = new LiveSession({ clock: () => 0 });
const viewMs: number[] = [];
let feedMs = 0;
let chunks = 0;
const t0 = performance.now();
for (let at = 0; at < bytes.length; at += CHUNK) {
  const f0 = performance.now();
  session.feed(bytes.subarray(at, at + CHUNK));
  feedMs += performance.now() - f0;
  if (++chunks % every === 0) {
    const v0 = performance.now();
    session.view({ sort: 'total', maxRows: 100, sparkPoints: 120 });
    viewMs.push(performance.now() - v0);
  }
}
session.end();
const v0 = performance.now();
const last = session.view({ sort: 'total', maxRows: 100, sparkPoints: 120 });
viewMs.push(performance.now() - v0);
const totalMs = performance.now() - t0;
const model = session.model();
let liveSites = 0;
for (let s = 0; s < model.sites.size; s++) if ((model.sites.columns.liveCount.array[s] as number) !== 0) liveSites++;
const sorted = [...viewMs].sort((a, b) => a - b);
const pct = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
console.log(`live: ${chunks} chunks of 64 KiB, a view every ${every} (${viewMs.length} views): ${totalMs.toFixed(0)} ms in all, ${feedMs.toFixed(0)} ms feeding`);
console.log(`view(): median ${pct(0.5).toFixed(1)} ms, p95 ${pct(0.95).toFixed(1)} ms, max ${(sorted[sorted.length - 1] as number).toFixed(1)} ms`);
console.log(
  `model at the end: ${model.sites.size.toLocaleString('en-US')} sites (${liveSites.toLocaleString('en-US')} with live memory), ${model.frames.frames.length.toLocaleString('en-US')} frames, ${model.snapshots.seq.length.toLocaleString('en-US')} snapshots; ${last.locations.length} locations shown of ${last.locations.length + last.moreLocations}`,
);
