// The live table alone, on a real capture's addresses: the capture's ALLOC and FREE events (in seq order,
// through the orderer) are read into arrays once, then replayed into a LiveTable several times, timed
// (insertOrReplace for an ALLOC, remove for a FREE: what the replay does for malloc's and Python's events).
// A capture's addresses are what decides the table's speed (how its hash spreads them, how often a look-up
// misses the cache), which a synthetic sequence does not reproduce. Without the reports' V8 flags
// (src/util/report-flags.ts) and outside the replay's chain of calls: what V8 inlines in a report, and so what
// boxes there, is not seen here (docs/benchmarks.md, round thirteen: a change this measured as 8 % faster was
// not faster in the reports).
//
// Run: node --single-threaded-gc dist/bench/live-table-speed.js CAPTURE [--runs N] [--events N] [--table JS] ...
//   --bulk N     FREEs past the 4096th in a row removed by removeMany(), N at a time (as heap-replay.ts does)
//   --table JS   a built live-table.js to measure (default: this tree's); give it several times to
//                compare, each run of each in turn (another checkout's: ROOT/dist/src/model/live-table.js)
//   --events N   only the first N events (default: all)
//   --sites N    each allocation at one of N sites, spread by its number (default: its stack's id mod 4096):
//                a program with that many sites, whose ids take more of a compact entry's bits; `--sites stack`:
//                its stack's id itself (call_sites: ~660 k, past the entry's 18 bits: the table's wide mode)
//   --chunks N   also print each table's nanoseconds per event by N-event chunk of its last run, with the live
//                allocations at each chunk's end: where a capture's table time goes (a doubling, a program's
//                end freeing its live set in one run of FREEs: docs/benchmarks.md, round seventeen)
// Prints, per table, the median and each run's CPU milliseconds and nanoseconds per event, and the table's
// byte length at the end (LiveTable.byteLength: a table never shrinks, so this is its size at the peak).

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SeqOrderer } from '../src/capture/order.js';
import { type CaptureVisitor, eventAddress } from '../src/capture/records.js';
import { readCaptureFile } from '../src/cli/capture-file.js';

interface Table {
  insertOrReplace(address: number, size: number, site: number, index: number): boolean;
  remove(address: number): boolean;
  removedSize: number;
  removedSite: number;
  removeMany?(addresses: Float64Array, n: number, sizes: Float64Array, sites: Uint32Array, indexes: Float64Array): void;
  readonly size: number;
  readonly byteLength: number;
}
type TableClass = new (initialCapacity?: number, options?: { indexesFrom?: number }) => Table;

/** The events, in order: an ALLOC has a size of at least 0 and a site; a FREE a size of −1. */
class Recorder implements CaptureVisitor {
  n = 0;
  addresses = new Float64Array(1 << 20);
  sizes = new Float64Array(1 << 20);
  sites = new Uint32Array(1 << 20);
  constructor(
    private readonly limit: number,
    private readonly spreadSites: number,
  ) {}
  private room(): boolean {
    if (this.n >= this.limit) return false;
    if (this.n === this.addresses.length) {
      const grow = <T extends Float64Array | Uint32Array>(a: T, b: T): T => (b.set(a), b);
      this.addresses = grow(this.addresses, new Float64Array(this.n * 2));
      this.sizes = grow(this.sizes, new Float64Array(this.n * 2));
      this.sites = grow(this.sites, new Uint32Array(this.n * 2));
    }
    return true;
  }
  alloc(_stream: number, _seq: number, address: number, size: number, _allocator: number, stack: number): void {
    if (!this.room()) return;
    this.addresses[this.n] = address;
    this.sizes[this.n] = size;
    // --sites N: each allocation at one of N sites, spread (a program with that many sites), else its stack's.
    this.sites[this.n] = this.spreadSites > 0 ? (Math.imul(this.n, 0x9e3779b1) >>> 0) % this.spreadSites : this.spreadSites < 0 ? stack : stack % 4096;
    this.n++;
  }
  free(_stream: number, _seq: number, address: number): void {
    if (!this.room()) return;
    this.addresses[this.n] = address;
    this.sizes[this.n++] = -1;
  }
  freeAt(stream: number, seq: number): void {
    this.free(stream, seq, eventAddress[0]!);
  }
  meta(): void {}
}

/**
 * Replays the events into a new table; its check sum, and its bytes at the end (a table never shrinks: at its
 * peak). With `chunk` > 0, the CPU microseconds and the live allocations after each `chunk` events go into `out`.
 */
function replay(T: TableClass, addresses: Float64Array, sizes: Float64Array, sites: Uint32Array, n: number, chunk: number, out: number[], bulk: number): [number, number] {
  const t = new T(1 << 16, { indexesFrom: Infinity });
  let check = 0;
  // --bulk: as the replay does (heap-replay.ts), the FREEs past the 4096th in a row held back, `bulk` at most,
  // and removed by removeMany().
  const held = new Float64Array(Math.max(bulk, 1));
  const heldSizes = new Float64Array(Math.max(bulk, 1));
  const heldSites = new Uint32Array(Math.max(bulk, 1));
  const heldIndexes = new Float64Array(Math.max(bulk, 1));
  let h = 0;
  let run = 0;
  const flush = (): void => {
    t.removeMany!(held, h, heldSizes, heldSites, heldIndexes);
    for (let j = 0; j < h; j++) if (heldSizes[j]! >= 0) check += heldSizes[j]! + heldSites[j]!;
    h = 0;
  };
  const step = chunk > 0 ? chunk : n;
  for (let from = 0; from < n; from += step) {
    const to = Math.min(n, from + step);
    const t0 = chunk > 0 ? process.cpuUsage() : undefined;
    for (let i = from; i < to; i++) {
      const size = sizes[i]!;
      if (bulk > 0 && size < 0 && ++run > 4096) {
        held[h++] = addresses[i]!;
        if (h === bulk) flush();
        continue;
      }
      if (size >= 0) {
        run = 0;
        if (h > 0) flush();
        if (t.insertOrReplace(addresses[i]!, size, sites[i]!, i)) check += t.removedSize;
      } else if (t.remove(addresses[i]!)) check += t.removedSize + t.removedSite;
    }
    if (h > 0 && to === n) flush();
    if (t0 !== undefined) {
      const d = process.cpuUsage(t0);
      out.push(d.user + d.system, t.size);
    }
  }
  return [check + t.size, t.byteLength];
}

async function main(argv: string[]): Promise<void> {
  let runs = 5;
  let events = Infinity;
  let spreadSites = 0;
  let chunk = 0;
  let bulk = 0;
  const tables: string[] = [];
  let capture: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--runs') runs = Number(argv[++i]);
    else if (a === '--events') events = Number(argv[++i]);
    else if (a === '--sites') spreadSites = argv[++i] === 'stack' ? -1 : Number(argv[i]);
    else if (a === '--chunks') chunk = Number(argv[++i]);
    else if (a === '--bulk') bulk = Number(argv[++i]);
    else if (a === '--table') tables.push(resolve(argv[++i]!));
    else capture = a;
  }
  if (capture === undefined) throw new Error('usage: live-table-speed.js CAPTURE [--runs N] [--events N] [--sites N] [--chunks N] [--table JS] ...');
  if (tables.length === 0) tables.push(new URL('../src/model/live-table.js', import.meta.url).pathname);
  const rec = new Recorder(events, spreadSites);
  const orderer = new SeqOrderer(rec);
  await readCaptureFile(capture, orderer);
  orderer.end();
  const classes = await Promise.all(tables.map(async (p) => ((await import(pathToFileURL(p).href)) as { LiveTable: TableClass }).LiveTable));
  // A copy of replay() for each table (its own feedback): one replay() for all would see several classes,
  // and V8 would not inline any of them.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval, @typescript-eslint/no-unsafe-call -- a fresh copy of replay()'s own code is the point
  const replays = classes.map(() => new Function(`return ${replay.toString()}`)() as typeof replay);
  const ms: number[][] = tables.map(() => []);
  const checks = new Set<number>();
  const bytes: number[] = [];
  const chunks: number[][] = tables.map(() => []);
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < classes.length; k++) {
      // CPU time (user + system), not wall time: the machine is shared.
      const t0 = process.cpuUsage();
      const out: number[] = [];
      chunks[k] = out;
      const [check, byteLength] = replays[k]!(classes[k]!, rec.addresses, rec.sizes, rec.sites, rec.n, chunk, out, bulk);
      const t = process.cpuUsage(t0);
      checks.add(check);
      bytes[k] = byteLength;
      ms[k]!.push((t.user + t.system) / 1000);
    }
  }
  if (checks.size !== 1) throw new Error(`the tables disagree: ${[...checks].join(', ')}`);
  console.log(`${rec.n} events, ${runs} runs each, in turn`);
  for (let k = 0; k < tables.length; k++) {
    const sorted = [...ms[k]!].sort((a, b) => a - b);
    const med = sorted[Math.floor(sorted.length / 2)]!;
    console.log(
      `${tables[k]}: median ${med.toFixed(0)} ms (${((med * 1e6) / rec.n).toFixed(1)} ns/event); runs ${ms[k]!.map((x) => x.toFixed(0)).join('/')}; ` +
        `the table's bytes at its peak ${bytes[k]!} (${(bytes[k]! / 2 ** 20).toFixed(2)} MiB)`,
    );
    if (chunk > 0) {
      // ns per event of each chunk of the last run @ the live allocations at its end.
      const c = chunks[k]!;
      const parts: string[] = [];
      for (let j = 0; j < c.length; j += 2) parts.push(`${((c[j]! * 1000) / Math.min(chunk, rec.n - (j / 2) * chunk)).toFixed(0)}@${c[j + 1]!}`);
      console.log(`  by ${chunk}-event chunk, last run (ns/event@live): ${parts.join(' ')}`);
    }
  }
}

await main(process.argv.slice(2));
