// Two oracles share this file (both branches added test/support/oracle.ts): the agent tests' capture model
// (Oracle, first) and the replay oracle of the model's property tests (runOracle, second).

import { readCaptureFile } from '../../src/cli/capture-file.js';
import type { CaptureHeader, CodeRecord, DecodeWarning, MetaRecord } from '../../src/capture/records.js';
import { LineTable } from '../../src/model/linetable.js';
import type { StreamCall } from './random-stream.js';

// A small, deliberately simple model of a capture for the agent's tests: it keeps every record in memory,
// resolves stacks the plain way (walking parent links), sorts events by seq and replays them with a Map.
// It answers "how many bytes are live, per source location, at the end and at the peak". The real
// analysis (src/analysis) is built separately for speed; this one is built to be obviously right.


export interface Frame {
  readonly function: string;
  readonly qualname: string;
  readonly file: string;
  readonly line: number | null;
}

interface Node {
  readonly parent: Node | undefined;
  readonly codeId: number;
  readonly instr: number;
  readonly depth: number;
}

export type Domain = 'native' | 'pymalloc' | 'tracemalloc';

export interface OracleAlloc {
  readonly kind: 'alloc';
  readonly stream: number;
  readonly seq: number;
  readonly address: number;
  readonly size: number;
  readonly allocator: number;
  readonly domain: Domain;
  readonly node: Node | undefined;
  readonly nativeStack: number;
}

export interface OracleFree {
  readonly kind: 'free';
  readonly stream: number;
  readonly seq: number;
  readonly address: number;
  readonly size: number;
  readonly deallocator: number;
  readonly domain: Domain;
}

export function allocDomain(allocator: number): Domain {
  if (allocator >= 9 && allocator <= 11) return 'pymalloc';
  if (allocator === 12) return 'tracemalloc';
  return 'native';
}

export function freeDomain(deallocator: number): Domain {
  if (deallocator === 2) return 'pymalloc';
  if (deallocator === 3) return 'tracemalloc';
  return 'native';
}

export interface ReplayOptions {
  /** Which allocations count (default: the native domain). */
  readonly domain?: Domain;
  /** The key an allocation is summed under (default: file:line of its leaf frame); undefined skips it. */
  readonly key?: (a: OracleAlloc) => string | undefined;
}

export class Oracle {
  header: CaptureHeader | undefined;
  readonly metas: MetaRecord[] = [];
  readonly warnings: DecodeWarning[] = [];
  readonly allocs: OracleAlloc[] = [];
  readonly frees: OracleFree[] = [];
  readonly codes = new Map<number, CodeRecord>();
  private readonly tables = new Map<number, LineTable>();

  static async load(path: string): Promise<Oracle> {
    const o = new Oracle();
    const nodes = new Map<number, Node[]>();
    const nodesOf = (stream: number): Node[] => {
      let n = nodes.get(stream);
      if (n === undefined) {
        n = [];
        nodes.set(stream, n);
      }
      return n;
    };
    await readCaptureFile(path, {
      header: (h) => {
        o.header = h;
      },
      alloc: (stream, seq, address, size, allocator, stack, nativeStack) => {
        const node = stack === 0 ? undefined : nodesOf(stream)[stack - 1];
        if (stack !== 0 && node === undefined) throw new Error(`stream ${stream}: ALLOC seq ${seq} uses undefined stack node ${stack}`);
        o.allocs.push({ kind: 'alloc', stream, seq, address, size, allocator, domain: allocDomain(allocator), node, nativeStack });
      },
      free: (stream, seq, address, size, deallocator) => {
        o.frees.push({ kind: 'free', stream, seq, address, size, deallocator, domain: freeDomain(deallocator) });
      },
      meta: (r) => {
        o.metas.push(r);
        if (r.type === 'frame') {
          const list = nodesOf(r.stream);
          if (r.id !== list.length + 1) throw new Error(`stream ${r.stream}: FRAME id ${r.id} out of order`);
          const parent = r.parent === 0 ? undefined : list[r.parent - 1];
          if (r.parent !== 0 && parent === undefined) throw new Error(`stream ${r.stream}: FRAME ${r.id} has undefined parent ${r.parent}`);
          list.push({ parent, codeId: r.codeId, instr: r.instr, depth: (parent?.depth ?? 0) + 1 });
        } else if (r.type === 'stack-reset') {
          nodes.set(r.stream, []);
        } else if (r.type === 'code') {
          o.codes.set(r.codeId, r);
        }
      },
      warning: (w) => {
        o.warnings.push(w);
      },
    });
    return o;
  }

  /** Meta records of one type. */
  records<T extends MetaRecord['type']>(type: T): Extract<MetaRecord, { type: T }>[] {
    return this.metas.filter((m): m is Extract<MetaRecord, { type: T }> => m.type === type);
  }

  private frameOf(codeId: number, instr: number): Frame {
    const code = this.codes.get(codeId);
    if (code === undefined) throw new Error(`CODE ${codeId} is never defined`);
    let table = this.tables.get(codeId);
    if (table === undefined) {
      table = LineTable.decode(code.linetableKind, code.linetable, code.firstLineNo);
      this.tables.set(codeId, table);
    }
    return { function: code.name, qualname: code.qualname, file: code.filename, line: table.lineAt(instr) };
  }

  /** The Python stack of an allocation, leaf first. */
  stack(a: OracleAlloc): Frame[] {
    const out: Frame[] = [];
    for (let n = a.node; n !== undefined; n = n.parent) out.push(this.frameOf(n.codeId, n.instr));
    return out;
  }

  depth(a: OracleAlloc): number {
    return a.node?.depth ?? 0;
  }

  leaf(a: OracleAlloc): Frame | undefined {
    return a.node === undefined ? undefined : this.frameOf(a.node.codeId, a.node.instr);
  }

  /** Events in seq order (the order they happened in, across threads). */
  ordered(): (OracleAlloc | OracleFree)[] {
    return [...this.allocs, ...this.frees].sort((x, y) => x.seq - y.seq);
  }

  /**
   * Replays events in seq order up to `untilSeq` (inclusive; all by default). Returns the live allocations
   * of the domain, the total at the end and the highest total with the seq where it was first reached.
   */
  replay(domain: Domain = 'native', untilSeq = Infinity): { live: Map<number, OracleAlloc>; total: number; peak: number; peakSeq: number; unmatchedFrees: number } {
    const live = new Map<number, OracleAlloc>();
    let total = 0;
    let peak = 0;
    let peakSeq = 0;
    let unmatchedFrees = 0;
    for (const e of this.ordered()) {
      if (e.seq > untilSeq) break;
      if (e.domain !== domain) continue;
      if (e.kind === 'alloc') {
        const old = live.get(e.address);
        if (old !== undefined) total -= old.size; // a free we did not see (allocated before tracking)
        live.set(e.address, e);
        total += e.size;
        if (total > peak) {
          peak = total;
          peakSeq = e.seq;
        }
        continue;
      }
      const old = live.get(e.address);
      if (old === undefined) {
        unmatchedFrees++;
        continue;
      }
      live.delete(e.address);
      total -= old.size;
      if (e.size !== 0 && e.size < old.size) {
        // munmap of the first part of a mapping: the rest stays
        const rest: OracleAlloc = { ...old, address: old.address + e.size, size: old.size - e.size };
        live.set(rest.address, rest);
        total += rest.size;
      }
    }
    return { live, total, peak, peakSeq, unmatchedFrees };
  }

  private sumBy(allocs: Iterable<OracleAlloc>, key: (a: OracleAlloc) => string | undefined): Map<string, number> {
    const out = new Map<string, number>();
    for (const a of allocs) {
      const k = key(a);
      if (k === undefined) continue;
      out.set(k, (out.get(k) ?? 0) + a.size);
    }
    return out;
  }

  /** The default key: file:line of the allocation's leaf Python frame. */
  readonly leafKey = (a: OracleAlloc): string | undefined => {
    const f = this.leaf(a);
    return f === undefined ? undefined : `${f.file}:${f.line ?? '?'}`;
  };

  /** Live bytes per key at the end of the capture. */
  liveAtEnd(options: ReplayOptions = {}): Map<string, number> {
    const r = this.replay(options.domain ?? 'native');
    return this.sumBy(r.live.values(), options.key ?? this.leafKey);
  }

  /** Live bytes per key at the moment the domain's live total was highest. */
  liveAtPeak(options: ReplayOptions = {}): { peak: number; byKey: Map<string, number> } {
    const domain = options.domain ?? 'native';
    const { peak, peakSeq } = this.replay(domain);
    const r = this.replay(domain, peakSeq);
    return { peak, byKey: this.sumBy(r.live.values(), options.key ?? this.leafKey) };
  }
}

/** Sum of the values whose key ends with `suffix` (a "file:line" ending, for example "prog.py:12"). */
export function bytesAt(m: Map<string, number>, suffix: string): number {
  let n = 0;
  for (const [k, v] of m) if (k.endsWith(`/${suffix}`) || k === suffix) n += v;
  return n;
}

// The slow, obviously correct model of a capture that property tests compare the real one against.
// Live memory is a list of allocations; an mmap is a set of pages; the state at the peak is a full copy
// of the per-site table, taken at every new maximum. Quadratic and proud of it.


const PAGE = 4096;

export interface SiteTotals {
  totalCount: number;
  totalBytes: number;
  liveCount: number;
  liveBytes: number;
  tempCount: number;
  tempBytes: number;
}

export interface OracleResult {
  readonly sites: Map<string, SiteTotals>;
  /** Per site, live bytes and count at the peak. */
  readonly peak: Map<string, { bytes: number; count: number }>;
  readonly peakHeap: number;
  readonly maxHeap: number;
  readonly endHeap: number;
  readonly allocations: number;
  /** Heap at each snapshot, in the order the snapshots came. */
  readonly snapshotHeaps: number[];
}

interface HeapAlloc {
  address: number;
  size: number;
  key: string;
  thread: number;
  index: number;
}

interface Mapping {
  pages: Set<number>;
  originalPages: number;
  key: string;
  thread: number;
  index: number;
  reduced: boolean;
}

export interface OracleOptions {
  readonly temporaryThreshold?: number;
  /** Peak inside [fromSeq, toSeq) only. */
  readonly fromSeq?: number;
  readonly toSeq?: number;
}

export function runOracle(calls: readonly StreamCall[], options: OracleOptions = {}): OracleResult {
  const chains = new Map<number, Map<number, string>>(); // stream → node → chain
  const heapAllocs: HeapAlloc[] = [];
  const tracked: HeapAlloc[] = [];
  const mappings: Mapping[] = [];
  const sites = new Map<string, SiteTotals>();
  const threadAllocs = new Map<number, number>();
  const fromSeq = options.fromSeq ?? 0;
  const toSeq = options.toSeq ?? Infinity;
  let peakHeap = -1;
  let peak = new Map<string, { bytes: number; count: number }>();
  let maxHeap = 0;
  let allocations = 0;
  let windowStarted = false;
  const snapshotHeaps: number[] = [];
  const pendingSnapshots: { index: number; seq: number }[] = [];

  const site = (key: string): SiteTotals => {
    let s = sites.get(key);
    if (s === undefined) {
      s = { totalCount: 0, totalBytes: 0, liveCount: 0, liveBytes: 0, tempCount: 0, tempBytes: 0 };
      sites.set(key, s);
    }
    return s;
  };
  const liveState = (): { heap: number; perSite: Map<string, { bytes: number; count: number }> } => {
    const perSite = new Map<string, { bytes: number; count: number }>();
    let heap = 0;
    const add = (key: string, bytes: number, count: number): void => {
      const e = perSite.get(key) ?? { bytes: 0, count: 0 };
      e.bytes += bytes;
      e.count += count;
      perSite.set(key, e);
      heap += bytes;
    };
    for (const a of heapAllocs) add(a.key, a.size, 1);
    for (const a of tracked) add(a.key, a.size, 1);
    for (const m of mappings) add(m.key, m.pages.size * PAGE, 1);
    return { heap, perSite };
  };
  const heapNow = (): number => liveState().heap;
  const considerPeak = (): void => {
    const st = liveState();
    if (st.heap > peakHeap) {
      peakHeap = st.heap;
      peak = st.perSite;
    }
  };
  const chainOf = (stream: number, node: number): string => (node === 0 ? '' : (chains.get(stream)?.get(node) ?? '?'));
  const isTemporary = (thread: number, index: number): boolean =>
    options.temporaryThreshold !== undefined && (threadAllocs.get(thread) ?? 0) - index <= options.temporaryThreshold;
  const bump = (thread: number): number => {
    const n = (threadAllocs.get(thread) ?? 0) + 1;
    threadAllocs.set(thread, n);
    return n;
  };
  const pageOwner = (page: number): Mapping | undefined => mappings.find((m) => m.pages.has(page));
  const unmap = (address: number, size: number, replaced: boolean): boolean => {
    let any = false;
    const touched = new Map<Mapping, number>();
    for (let p = address; p < address + size; p += PAGE) {
      const m = pageOwner(p);
      if (m === undefined) continue;
      m.pages.delete(p);
      touched.set(m, (touched.get(m) ?? 0) + 1);
      any = true;
    }
    for (const [m, removed] of touched) {
      if (m.pages.size === 0) {
        mappings.splice(mappings.indexOf(m), 1);
        const whole = !m.reduced && removed === m.originalPages;
        if (whole && !replaced && isTemporary(m.thread, m.index)) {
          site(m.key).tempCount++;
          site(m.key).tempBytes += removed * PAGE;
        }
      } else {
        m.reduced = true;
      }
    }
    return any;
  };

  for (const c of calls) {
    if (c.kind === 'meta') {
      const r = c.record;
      if (r.type === 'frame') {
        let m = chains.get(r.stream);
        if (m === undefined) chains.set(r.stream, (m = new Map<number, string>()));
        const parent = r.parent === 0 ? '' : (m.get(r.parent) ?? '?');
        m.set(r.id, `${parent}>f${r.codeId}:${r.instr}`);
      } else if (r.type === 'stack-reset') {
        chains.set(r.stream, new Map());
      } else if (r.type === 'snapshot') {
        pendingSnapshots.push({ index: snapshotHeaps.length, seq: r.seq });
        snapshotHeaps.push(NaN);
      }
      continue;
    }
    for (let i = pendingSnapshots.length - 1; i >= 0; i--) {
      const p = pendingSnapshots[i] as { index: number; seq: number };
      if (p.seq <= c.seq) {
        snapshotHeaps[p.index] = heapNow();
        pendingSnapshots.splice(i, 1);
      }
    }
    if (!windowStarted && c.seq >= fromSeq) {
      windowStarted = true;
      considerPeak();
    }
    const thread = c.stream;
    if (c.kind === 'alloc') {
      const key = `${c.stream}|${c.allocator}|${chainOf(c.stream, c.stack)}`;
      if (c.allocator === 8 || c.allocator === 14) {
        unmap(c.address, c.size, true);
        const pages = new Set<number>();
        for (let p = c.address; p < c.address + c.size; p += PAGE) pages.add(p);
        mappings.push({ pages, originalPages: pages.size, key, thread, index: bump(thread), reduced: false });
      } else if (c.allocator === 12) {
        if (heapAllocs.some((a) => a.address === c.address) || pageOwner(c.address - (c.address % PAGE)) !== undefined) continue;
        const old = tracked.findIndex((a) => a.address === c.address);
        if (old >= 0) tracked.splice(old, 1);
        tracked.push({ address: c.address, size: c.size, key, thread, index: bump(thread) });
      } else {
        const old = heapAllocs.findIndex((a) => a.address === c.address);
        if (old >= 0) heapAllocs.splice(old, 1);
        heapAllocs.push({ address: c.address, size: c.size, key, thread, index: bump(thread) });
      }
      allocations++;
      site(key).totalCount++;
      site(key).totalBytes += c.size;
    } else if (c.deallocator === 1) {
      unmap(c.address, c.size, false);
    } else {
      const list = c.deallocator === 3 ? tracked : heapAllocs;
      const i = list.findIndex((a) => a.address === c.address);
      if (i >= 0) {
        const a = list[i] as HeapAlloc;
        list.splice(i, 1);
        if (isTemporary(a.thread, a.index)) {
          site(a.key).tempCount++;
          site(a.key).tempBytes += a.size;
        }
      }
    }
    const h = heapNow();
    if (h > maxHeap) maxHeap = h;
    if (c.seq >= fromSeq && c.seq < toSeq) considerPeak();
  }
  if (!windowStarted) considerPeak();
  for (const p of pendingSnapshots) snapshotHeaps[p.index] = heapNow();
  const end = liveState();
  for (const [key, v] of end.perSite) {
    site(key).liveBytes = v.bytes;
    site(key).liveCount = v.count;
  }
  return { sites, peak, peakHeap, maxHeap, endHeap: end.heap, allocations, snapshotHeaps };
}
