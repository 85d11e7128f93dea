// A feasibility prototype (NOT product code; docs/two-thread-read.md): a capture read on two threads.
//
// The cut: a worker_threads Worker reads the file, inflates, decodes and orders it (readCaptureFile into a
// SeqOrderer, as src/cli/load-model.ts does on one thread); the orderer's output, already in seq order, goes
// into columnar batches in a SharedArrayBuffer ring; the main thread replays them into the ModelBuilder (the
// heap replay, the live table, the site table, summary's ForensicsObserver). Records other than ALLOC, FREE
// and FRAME (the header, META records, warnings: a few thousand in a 50 M-event capture) cross as messages
// on a MessagePort, a marker in the batch saying where each goes; the main thread takes them with
// receiveMessageOnPort(), synchronously, in their place in the order.
//
// Run (built by tsc to dist/bench/two-thread-read.js; node with the report flags):
//   node --single-threaded-gc --no-concurrent-recompilation dist/bench/two-thread-read.js MODE FILE [options]
//   MODE  one    the read on one thread (load-model.ts's readModel and collectNow()), then summary's JSON
//         two    the read on two threads, then summary's JSON
//         check  one, then two, in the same process: prints EQUAL or DIFFERENT (exit status 1)
//         idle   only starts a Worker that loads WORKER_MODULE (default: this file's capture modules) and waits
//                (FILE: a module path, or "none" for no worker): the bare cost of a worker isolate
//   --batch N      events per batch (default 8192); --batches K  batches in the ring (default 4)
//   --drop-batch I the deliberately wrong cut: the main thread skips the ALLOC/FREE events of batch I
// Prints one line of JSON: the model's totals, the high-water mark, the site count, a hash of summary's JSON.

import { createHash } from 'node:crypto';
import { getHeapStatistics } from 'node:v8';
import { readFileSync, statSync } from 'node:fs';
import { MessageChannel, type MessagePort, Worker, isMainThread, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { CaptureHeader, CaptureVisitor, DecodeWarning, MetaRecord } from '../src/capture/records.js';

// ── the ring ──────────────────────────────────────────────────────────────────────────────────────────

const K_ALLOC = 0;
const K_FREE = 1;
const K_FRAME = 2;
const K_META = 3;
const K_HEADER = 4;
const K_WARNING = 5;

// Control words (Int32): per batch, its state and its count. A count of −1: the worker failed (a message says why).
const FREE = 0;
const FULL = 1;
const LAST = 2;
const CTL_WORDS = 2;

interface RingShape {
  readonly batch: number;
  readonly batches: number;
}

/** Bytes of one batch: kind, code (u8), stream (u32), five f64 columns. */
function batchBytes(batch: number): number {
  return batch * (1 + 1 + 4 + 5 * 8) + 16;
}

class Ring {
  readonly ctl: Int32Array;
  readonly kind: Uint8Array[] = [];
  readonly code: Uint8Array[] = [];
  readonly stream: Uint32Array[] = [];
  readonly a: Float64Array[] = [];
  readonly b: Float64Array[] = [];
  readonly c: Float64Array[] = [];
  readonly d: Float64Array[] = [];
  readonly e: Float64Array[] = [];

  constructor(
    readonly sab: SharedArrayBuffer,
    readonly shape: RingShape,
  ) {
    const n = shape.batch;
    this.ctl = new Int32Array(sab, 0, shape.batches * CTL_WORDS);
    let at = shape.batches * CTL_WORDS * 4;
    for (let i = 0; i < shape.batches; i++) {
      // f64 columns first (8-byte aligned), then u32, then the bytes.
      at = (at + 7) & ~7;
      this.a.push(new Float64Array(sab, at, n));
      at += 8 * n;
      this.b.push(new Float64Array(sab, at, n));
      at += 8 * n;
      this.c.push(new Float64Array(sab, at, n));
      at += 8 * n;
      this.d.push(new Float64Array(sab, at, n));
      at += 8 * n;
      this.e.push(new Float64Array(sab, at, n));
      at += 8 * n;
      this.stream.push(new Uint32Array(sab, at, n));
      at += 4 * n;
      this.kind.push(new Uint8Array(sab, at, n));
      at += n;
      this.code.push(new Uint8Array(sab, at, n));
      at += n;
    }
  }

  static bytes(shape: RingShape): number {
    return shape.batches * CTL_WORDS * 4 + shape.batches * batchBytes(shape.batch);
  }
}

// ── the worker's side: decode and order into the ring ─────────────────────────────────────────────────

/** The orderer's downstream visitor in the worker: each record into the current batch. */
class RingWriter implements CaptureVisitor {
  private at = 0;
  private cur = 0;
  private kind: Uint8Array;
  private code: Uint8Array;
  private stream: Uint32Array;
  private a: Float64Array;
  private b: Float64Array;
  private c: Float64Array;
  private d: Float64Array;
  private e: Float64Array;
  private readonly n: number;
  private readonly address: Float64Array;
  batchesSent = 0;
  waits = 0;
  waitMs = 0;

  constructor(
    private readonly ring: Ring,
    private readonly port: MessagePort,
    eventAddress: Float64Array,
  ) {
    this.n = ring.shape.batch;
    this.address = eventAddress;
    this.kind = ring.kind[0]!;
    this.code = ring.code[0]!;
    this.stream = ring.stream[0]!;
    this.a = ring.a[0]!;
    this.b = ring.b[0]!;
    this.c = ring.c[0]!;
    this.d = ring.d[0]!;
    this.e = ring.e[0]!;
  }

  header(h: CaptureHeader): void {
    this.message(K_HEADER, h);
  }

  warning(w: DecodeWarning): void {
    this.message(K_WARNING, w);
  }

  meta(r: MetaRecord): void {
    this.message(K_META, r);
  }

  alloc(stream: number, seq: number, address: number, size: number, allocator: number, stack: number, nativeStack: number): void {
    const i = this.at;
    this.kind[i] = K_ALLOC;
    this.stream[i] = stream;
    this.a[i] = seq;
    this.b[i] = address;
    this.c[i] = size;
    this.code[i] = allocator;
    this.d[i] = stack;
    this.e[i] = nativeStack;
    if (++this.at === this.n) this.publish(FULL);
  }

  free(stream: number, seq: number, address: number, size: number, deallocator: number): void {
    this.address[0] = address;
    this.freeAt(stream, seq, size, deallocator);
  }

  freeAt(stream: number, seq: number, size: number, deallocator: number): void {
    const i = this.at;
    this.kind[i] = K_FREE;
    this.stream[i] = stream;
    this.a[i] = seq;
    this.b[i] = this.address[0]!;
    this.c[i] = size;
    this.code[i] = deallocator;
    if (++this.at === this.n) this.publish(FULL);
  }

  frame(stream: number, id: number, parent: number, codeId: number, instr: number): void {
    const i = this.at;
    this.kind[i] = K_FRAME;
    this.stream[i] = stream;
    this.a[i] = id;
    this.b[i] = parent;
    this.c[i] = codeId;
    this.d[i] = instr;
    if (++this.at === this.n) this.publish(FULL);
  }

  /** The record as a message, posted before its marker is published (a port keeps its messages' order). */
  private message(kind: number, value: unknown): void {
    this.port.postMessage(value);
    const i = this.at;
    this.kind[i] = kind;
    if (++this.at === this.n) this.publish(FULL);
  }

  /** Hands the current batch over (FULL, or LAST with what it holds) and waits for the next to be free. */
  publish(state: number, count = this.at): void {
    const ctl = this.ring.ctl;
    const w = this.cur * CTL_WORDS;
    Atomics.store(ctl, w + 1, count);
    Atomics.store(ctl, w, state);
    Atomics.notify(ctl, w);
    this.batchesSent++;
    if (state === LAST) return;
    this.cur = (this.cur + 1) % this.ring.shape.batches;
    const nw = this.cur * CTL_WORDS;
    if (Atomics.load(ctl, nw) !== FREE) {
      const t = performance.now();
      while (Atomics.load(ctl, nw) !== FREE) {
        this.waits++;
        Atomics.wait(ctl, nw, Atomics.load(ctl, nw));
      }
      this.waitMs += performance.now() - t;
    }
    const r = this.ring;
    const c = this.cur;
    this.kind = r.kind[c]!;
    this.code = r.code[c]!;
    this.stream = r.stream[c]!;
    this.a = r.a[c]!;
    this.b = r.b[c]!;
    this.c = r.c[c]!;
    this.d = r.d[c]!;
    this.e = r.e[c]!;
    this.at = 0;
  }
}

interface WorkerInput {
  readonly path: string;
  readonly sab: SharedArrayBuffer;
  readonly shape: RingShape;
  readonly port: MessagePort;
  readonly idle?: boolean;
}

async function workerMain(input: WorkerInput): Promise<void> {
  const ring = new Ring(input.sab, input.shape);
  const [{ SeqOrderer }, { readCaptureFile }, { eventAddress }, { heapGrowthCheck }] = await Promise.all([
    import('../src/capture/order.js'),
    import('../src/cli/capture-file.js'),
    import('../src/capture/records.js'),
    import('../src/util/outgrown.js'),
  ]);
  if (input.idle === true) {
    parentPort?.postMessage('loaded');
    return;
  }
  const writer = new RingWriter(ring, input.port, eventAddress);
  try {
    const orderer = new SeqOrderer(writer);
    await readCaptureFile(input.path, orderer, { chunkSize: 128 << 10, afterChunk: heapGrowthCheck() });
    orderer.end();
    writer.publish(LAST);
  } catch (e) {
    input.port.postMessage({ error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    writer.publish(LAST, -1);
  }
  parentPort?.postMessage({ batches: writer.batchesSent, waits: writer.waits, waitMs: Math.round(writer.waitMs), cpuMs: threadCpuMs(), heap: isolateHeap() });
}

/** This isolate's V8 heap, MiB: what the worker's isolate holds at the end of its read. */
function isolateHeap(): Record<string, number> {
  const h = getHeapStatistics();
  const mb = (n: number): number => Math.round(n / 104857.6) / 10;
  return {
    total: mb(h.total_heap_size),
    used: mb(h.used_heap_size),
    malloced: mb(h.malloced_memory),
    peakMalloced: mb(h.peak_malloced_memory),
    external: mb(h.external_memory),
    rss: mb(process.memoryUsage.rss()),
  };
}

/** This thread's CPU time (user + system) so far, ms: /proc/thread-self/stat's utime and stime (clock ticks of 10 ms). */
function threadCpuMs(): number {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

// ── the main thread's side ────────────────────────────────────────────────────────────────────────────

interface Digest {
  readonly allocations: number;
  readonly frees: number;
  readonly bytesAllocated: number;
  readonly endHeap: number;
  readonly endLiveCount: number;
  readonly maxHeap: number;
  readonly maxHeapSeq: number;
  readonly lastSeq: number;
  readonly sites: number;
  readonly threads: number;
  readonly markers: number;
  readonly warnings: number;
  readonly summaryJsonSha256: string;
}

const args = process.argv.slice(2);
function option(name: string, fallback: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

async function mainThread(): Promise<void> {
  const [mode, path] = args;
  if (mode === undefined || path === undefined) throw new Error('usage: two-thread-read.js one|two|check|idle FILE [--batch N] [--batches K] [--drop-batch I]');
  if (mode === 'idle') return idle(path);
  const shape: RingShape = { batch: option('--batch', 8192), batches: option('--batches', 4) };
  const drop = option('--drop-batch', -1);
  const t0 = performance.now();
  if (mode === 'one' || mode === 'two') {
    const d = mode === 'one' ? await summaryDigest(path, undefined) : await summaryDigest(path, { shape, drop });
    process.stdout.write(JSON.stringify({ mode, ms: Math.round(performance.now() - t0), ...d }) + '\n');
    return;
  }
  if (mode !== 'check') throw new Error(`unknown mode ${mode}`);
  const one = await summaryDigest(path, undefined);
  const two = await summaryDigest(path, { shape, drop });
  const same = JSON.stringify(one) === JSON.stringify(two);
  process.stdout.write(JSON.stringify({ one, two }) + '\n' + (same ? 'EQUAL\n' : 'DIFFERENT\n'));
  if (!same) process.exitCode = 1;
}

/** The model as `memlens summary` builds it (its observer, its options), read on one or two threads; then summary's JSON. */
async function summaryDigest(path: string, two: { shape: RingShape; drop: number } | undefined): Promise<Digest> {
  const [
    { ForensicsObserver },
    { parseSetOptions, buildOptionsOf, frameFilterOf },
    { selectSet },
    { captureCensus },
    { findings },
    { locations },
    { stacksOf },
    { selectSummaryRows, summaryJson },
    { leaksAllocatorNote },
  ] = await Promise.all([
    import('../src/analysis/forensics.js'),
    import('../src/cli/report-options.js'),
    import('../src/cli/select-set.js'),
    import('../src/analysis/capture-census.js'),
    import('../src/analysis/findings/index.js'),
    import('../src/analysis/locations.js'),
    import('../src/analysis/stacks.js'),
    import('../src/report/summary.js'),
    import('../src/report/describe.js'),
  ]);
  const { ModelBuilder } = await import('../src/model/builder.js');
  const { siteCapacityFor } = await import('../src/model/site-table.js');
  const { fileSymbolizer } = await import('../src/cli/symbolizer.js');
  const { lineTableResolver } = await import('../src/model/lines.js');
  const { useReportFlags } = await import('../src/util/report-flags.js');
  const { collectNow, heapGrowthCheck } = await import('../src/util/outgrown.js');
  const sel = parseSetOptions('summary', {});
  const observer = new ForensicsObserver({ noRecentGrowth: true });
  useReportFlags();
  const size = statSync(path).size;
  const builder = new ModelBuilder({ lineResolver: lineTableResolver(), symbolizer: fileSymbolizer(), siteCapacity: siteCapacityFor(size), ...buildOptionsOf(sel), observer });
  if (two === undefined) {
    const { SeqOrderer } = await import('../src/capture/order.js');
    const { readCaptureFile } = await import('../src/cli/capture-file.js');
    const orderer = new SeqOrderer(builder);
    await readCaptureFile(path, orderer, { chunkSize: 128 << 10, afterChunk: heapGrowthCheck() });
    orderer.end();
  } else {
    await replayFromWorker(path, builder, two.shape, two.drop, heapGrowthCheck());
  }
  const model = builder.finish();
  collectNow();
  const set = selectSet(model, sel);
  const filter = frameFilterOf({});
  const census = captureCensus(model);
  const found = findings(model, observer.finish(), { filter, census: census.census ?? null });
  const rows = locations(model, stacksOf(model, set, { filter }));
  const data = selectSummaryRows(set, rows, { sort: 'total', maxRows: Infinity, threshold: 0.01 });
  const json = JSON.stringify(summaryJson(model, data, found, census.census, leaksAllocatorNote(model, set)));
  return {
    allocations: model.allocations,
    frees: model.frees,
    bytesAllocated: model.bytesAllocated,
    endHeap: model.endHeap,
    endLiveCount: model.endLiveCount,
    maxHeap: model.maxHeap,
    maxHeapSeq: model.maxHeapSeq,
    lastSeq: model.lastSeq,
    sites: model.sites.size,
    threads: model.threads.length,
    markers: model.markers.length,
    warnings: model.warnings.length,
    summaryJsonSha256: createHash('sha256').update(json).digest('hex'),
  };
}

/** Starts the worker on `path` and replays its batches into `down`, blocking on the ring (Atomics.wait). */
async function replayFromWorker(path: string, down: CaptureVisitor & Required<Pick<CaptureVisitor, 'freeAt' | 'frame'>>, shape: RingShape, drop: number, afterBatch: () => void): Promise<void> {
  const { eventAddress } = await import('../src/capture/records.js');
  const sab = new SharedArrayBuffer(Ring.bytes(shape));
  const ring = new Ring(sab, shape);
  const { port1, port2 } = new MessageChannel();
  const input: WorkerInput = { path, sab, shape, port: port2 };
  // TWO_THREAD_YOUNG_MB: the worker isolate's young generation capped (an experiment on its peak RSS).
  const young = Number(process.env['TWO_THREAD_YOUNG_MB'] ?? 0);
  const worker = new Worker(new URL(import.meta.url), { workerData: input, transferList: [port2], ...(young > 0 ? { resourceLimits: { maxYoungGenerationSizeMb: young } } : {}) });
  let workerError: Error | undefined;
  worker.on('error', (e) => (workerError = e));
  const ended = new Promise<unknown>((resolve) => worker.once('message', resolve));
  const ctl = ring.ctl;
  let b = 0;
  let seen = 0;
  let waits = 0;
  let waitMs = 0;
  const take = (): unknown => {
    // Posted before its marker was published: it is there (a few tries for safety; never needed so far).
    for (let tries = 0; tries < 1000; tries++) {
      const m = receiveMessageOnPort(port1);
      if (m !== undefined) return m.message;
      Atomics.wait(ctl, 0, -12345, 1);
    }
    throw new Error('two-thread read: a META record announced in a batch never arrived');
  };
  for (;;) {
    const w = b * CTL_WORDS;
    if (Atomics.load(ctl, w) === FREE) {
      const t = performance.now();
      while (Atomics.load(ctl, w) === FREE) {
        waits++;
        // Wakes up now and then to see whether the worker died without saying (its 'error' event needs the loop).
        if (Atomics.wait(ctl, w, FREE, 1000) === 'timed-out' && workerError === undefined) await new Promise((r) => setImmediate(r));
        if (workerError !== undefined) throw new Error(`two-thread read: the worker failed: ${workerError.message}`);
      }
      waitMs += performance.now() - t;
    }
    const state = Atomics.load(ctl, w);
    const count = Atomics.load(ctl, w + 1);
    if (count < 0) {
      const m = take() as { error?: string };
      throw new Error(`two-thread read: the worker failed: ${m.error ?? 'unknown'}`);
    }
    const kind = ring.kind[b]!;
    const code = ring.code[b]!;
    const stream = ring.stream[b]!;
    const a = ring.a[b]!;
    const bb = ring.b[b]!;
    const c = ring.c[b]!;
    const d = ring.d[b]!;
    const e = ring.e[b]!;
    const skip = seen === drop;
    for (let i = 0; i < count; i++) {
      switch (kind[i]) {
        case K_ALLOC:
          if (!skip) down.alloc(stream[i]!, a[i]!, bb[i]!, c[i]!, code[i]!, d[i]!, e[i]!);
          break;
        case K_FREE:
          if (!skip) {
            eventAddress[0] = bb[i]!;
            down.freeAt(stream[i]!, a[i]!, c[i]!, code[i]!);
          }
          break;
        case K_FRAME:
          down.frame(stream[i]!, a[i]!, bb[i]!, c[i]!, d[i]!);
          break;
        case K_META:
          down.meta(take() as MetaRecord);
          break;
        case K_HEADER:
          down.header?.(take() as CaptureHeader);
          break;
        default:
          down.warning?.(take() as DecodeWarning);
      }
    }
    seen++;
    Atomics.store(ctl, w, FREE);
    Atomics.notify(ctl, w);
    if ((seen & 15) === 0) afterBatch();
    if (state === LAST) break;
    b = (b + 1) % shape.batches;
  }
  const stats = await ended;
  port1.close();
  await worker.terminate();
  if (process.env['TWO_THREAD_STATS'] === '1')
    process.stderr.write(`worker: ${JSON.stringify(stats)}; main (to the end of the read): ${JSON.stringify({ waits, waitMs: Math.round(waitMs), cpuMs: threadCpuMs(), heap: isolateHeap() })}\n`);
}

/** The bare cost of a worker isolate: one that loads the capture modules (or a given module) and waits. */
async function idle(what: string): Promise<void> {
  const before = process.memoryUsage.rss();
  if (what !== 'none') {
    const shape: RingShape = { batch: 8192, batches: 4 };
    const sab = new SharedArrayBuffer(Ring.bytes(shape));
    const { port2 } = new MessageChannel();
    const url = what === 'capture' ? new URL(import.meta.url) : new URL(`file://${what}`);
    const input: WorkerInput = { path: '', sab, shape, port: port2, idle: true };
    const worker = new Worker(url, { workerData: input, transferList: [port2] });
    await new Promise((resolve) => worker.once('message', resolve));
    await new Promise((r) => setTimeout(r, 300));
    process.stdout.write(JSON.stringify({ what, rssBefore: before, rssWithWorker: process.memoryUsage.rss(), ringBytes: Ring.bytes(shape) }) + '\n');
    await worker.terminate();
    return;
  }
  await new Promise((r) => setTimeout(r, 300));
  process.stdout.write(JSON.stringify({ what, rss: process.memoryUsage.rss() }) + '\n');
}

if (isMainThread) {
  mainThread().catch((e: unknown) => {
    process.stderr.write(`two-thread-read: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
} else {
  void workerMain(workerData as WorkerInput);
}
