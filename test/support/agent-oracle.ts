// A small, deliberately simple model of a capture for the agent's tests: it keeps every record in memory,
// resolves stacks the plain way (walking parent links), sorts events by seq and replays them with a Map.
// It answers "how many bytes are live, per source location, at the end and at the peak". The real
// analysis (src/analysis) is built separately for speed; this one is built to be obviously right.
//
// Why there is a second oracle (model-oracle.ts): the two check different code from different inputs.
// This one reads a capture file the real agent wrote and names what a Python program allocated by
// file:line (through the real line tables), so an agent test can say "prog.py:12 holds 8 MiB at the end";
// it knows only what the agent must get right (domains, the munmap of a mapping's head). model-oracle.ts
// takes the generator's calls, before any encoding, and repeats every rule of the model builder (pages of
// mappings, tracemalloc records shadowed by native ones, temporary allocations, windows, snapshot heaps)
// to check the builder's figures exactly. Sharing a core would tie the agent's tests to the builder's
// rules, which is what they must stay independent of.

import { readCaptureFile } from '../../src/cli/capture-file.js';
import type { CaptureHeader, CheckpointEntry, CodeRecord, DecodeWarning, MetaRecord } from '../../src/capture/records.js';
import { LineTable } from '../../src/model/linetable.js';

/** MARKER kind 9 (docs/capture-format.md), written here rather than imported: the oracle stays independent. */
const PROGRAM_END_MARKER = 9;

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
/** What a replay counts: one domain, or 'heap', the system allocator and Python's allocators together (the
 * agent records a block in one of them, never both: the malloc under a traced Python allocator is not
 * recorded). A free-threaded build's objects are in Python's allocators (mimalloc) in every mode. */
export type ReplayDomain = Domain | 'heap';

function counts(domain: ReplayDomain, e: { readonly domain: Domain }): boolean {
  return domain === 'heap' ? e.domain !== 'tracemalloc' : e.domain === domain;
}

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
  /** Which allocations count (default: the heap, native and Python's allocators). */
  readonly domain?: ReplayDomain;
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
  /** Each stream's Python stack nodes as they stand at the end (ids from 1). */
  readonly nodes = new Map<number, Node[]>();

  static async load(path: string): Promise<Oracle> {
    const o = new Oracle();
    const nodes = o.nodes;
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

  /** The Python stack of node `id` of `stream` (as the stream's nodes stand at the end), leaf first. */
  stackOfNode(stream: number, id: number): Frame[] {
    const out: Frame[] = [];
    for (let n = id === 0 ? undefined : this.nodes.get(stream)?.[id - 1]; n !== undefined; n = n.parent) out.push(this.frameOf(n.codeId, n.instr));
    return out;
  }

  /**
   * Aggregated captures: every location's latest CHECKPOINT entry (entries of later checkpoints replace
   * earlier ones) and the last checkpoint's heap figures, at the program's end as liveAtEnd() means it: the
   * checkpoints written before the PROGRAM_END marker (the agent writes one right before it, in the same
   * service stream, so in file order), all of them without one.
   */
  checkpointState(): { heap: number; peakHeap: number; peakSeq: number; checkpoints: number; locations: Map<string, CheckpointEntry> } {
    const locations = new Map<string, CheckpointEntry>();
    let heap = 0;
    let peakHeap = 0;
    let peakSeq = 0;
    let checkpoints = 0;
    const end = this.metas.findIndex((m) => m.type === 'marker' && m.kind === PROGRAM_END_MARKER);
    const before = end < 0 ? this.metas : this.metas.slice(0, end);
    for (const c of before.filter((m): m is Extract<MetaRecord, { type: 'checkpoint' }> => m.type === 'checkpoint')) {
      checkpoints++;
      heap = c.heap;
      peakHeap = c.peakHeap;
      peakSeq = c.peakSeq;
      for (const e of c.entries) locations.set(`${e.stream}/${e.stack}/${e.nativeStack}/${e.allocator}`, e);
    }
    return { heap, peakHeap, peakSeq, checkpoints, locations };
  }

  /** Events in seq order (the order they happened in, across threads). */
  ordered(): (OracleAlloc | OracleFree)[] {
    return [...this.allocs, ...this.frees].sort((x, y) => x.seq - y.seq);
  }

  /**
   * Replays events in seq order up to `untilSeq` (inclusive; all by default). Returns the live allocations
   * of the domain, the total at the end and the highest total with the seq where it was first reached.
   */
  replay(domain: ReplayDomain = 'heap', untilSeq = Infinity): { live: Map<number, OracleAlloc>; total: number; peak: number; peakSeq: number; unmatchedFrees: number } {
    const live = new Map<number, OracleAlloc>();
    let total = 0;
    let peak = 0;
    let peakSeq = 0;
    let unmatchedFrees = 0;
    for (const e of this.ordered()) {
      if (e.seq > untilSeq) break;
      if (!counts(domain, e)) continue;
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

  /** The last event's seq of the program, for replay(): before its PROGRAM_END marker, or all events without one. */
  programEndSeq(): number {
    const end = this.records('marker').find((m) => m.kind === PROGRAM_END_MARKER);
    return end === undefined ? Infinity : end.seq - 1;
  }

  /**
   * Live bytes per key at the program's end: before its PROGRAM_END marker when the capture has one (what
   * follows is memlens's release of the script's names: docs/reports.md "Which end"), else at the end of
   * the capture. A marker's seq is the next event's.
   */
  liveAtEnd(options: ReplayOptions = {}): Map<string, number> {
    const r = this.replay(options.domain ?? 'heap', this.programEndSeq());
    return this.sumBy(r.live.values(), options.key ?? this.leafKey);
  }

  /** Live bytes per key at the moment the domain's live total was highest. */
  liveAtPeak(options: ReplayOptions = {}): { peak: number; byKey: Map<string, number> } {
    const domain = options.domain ?? 'heap';
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
