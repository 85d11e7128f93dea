// The slow, obviously correct model of a capture that property tests compare the real one against.
// Live memory is a list of allocations; an mmap is a set of pages; the state at the peak is a full copy
// of the per-site table, taken at every new maximum. Quadratic and proud of it.
//
// Why there is a second oracle (agent-oracle.ts): this one checks the model builder (src/model/builder.ts
// and the reading pipeline before it) from the generator's calls (random-stream.ts), keyed by stream,
// allocator and stack chain, and follows every rule the builder has. agent-oracle.ts checks the agent: it
// reads a real capture, names sites by file:line through the line tables, and stays ignorant of the
// builder's rules so that an agent test never passes because builder and oracle share a mistake.

import type { StreamCall } from './random-stream.js';

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
  const isTemporary = (thread: number, index: number): boolean => options.temporaryThreshold !== undefined && (threadAllocs.get(thread) ?? 0) - index <= options.temporaryThreshold;
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
