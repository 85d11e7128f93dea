// Memory profiles of a running capture, one per interval, for a continuous-profiling engine (deployment.md):
// a CaptureVisitor (behind the seq orderer) that keeps, per stack, what was allocated since the last take()
// and what is live now, weighted when the capture is sampled; take() hands them out and starts the next
// interval.
//
// Unlike the model builder, which keeps everything a report may ask about, this runs for days in the
// memlens process next to a production service, so everything it keeps is bounded:
// - the stack table holds at most `maxStacks` stacks; allocations on further stacks go to one "other"
//   entry, and how much went there (and how many stacks were refused) is counted; a stack with nothing
//   live leaves the table at the next take(), so the table holds the stacks that hold memory or allocated
//   lately, not every stack ever seen;
// - Python stack nodes are interned up to `maxNodes` (past that, new stacks are "other" too);
// - a thread's node map goes away with its THREAD_EXIT (a service may start threads all day);
// - the live allocations are the recorded ones only (a sampled capture records a few per MiB);
// - native stacks (--native) are interned like the Python ones, up to `maxNodes` nodes and as many
//   (Python, native) pairs; their frames are named by the symbolizer the caller gives (the memlens process
//   reads the images' symbol tables, as for reports), each address once, the names kept up to MAX_IP_NAMES.
// Code objects and their line tables are kept: they are bounded by the program's code. Images go with their
// IMAGE_UNLOAD (a service may load and unload libraries all day).

import { Allocator, Deallocator, MARKER_KINDS } from '../../capture/format.js';
import type { CaptureHeader, CaptureVisitor, CodeRecord, DecodeWarning, MetaRecord } from '../../capture/records.js';
import { pythonFrameKind } from '../../model/frame-kinds.js';
import { DEFAULT_FRAME_FILTER, type FrameFilter } from '../../model/frames.js';
import type { SiteId } from '../../model/ids.js';
import { ImageTable, type NativeSymbolizer } from '../../model/images.js';
import { lineTableResolver } from '../../model/lines.js';
import { LiveTable } from '../../model/live-table.js';
import { MappedRegions } from '../../model/mapped-regions.js';
import { type Sampling, sampleWeight, samplingOf } from '../../model/sampling.js';
import type { LineResolver } from '../../model/stack-resolver.js';
import { TupleInterner } from '../../model/tuple-interner.js';

export const DEFAULT_MAX_STACKS = 10_000;
const DEFAULT_MAX_NODES = 1 << 20;
/** Native addresses whose names are remembered (then the cache starts over). */
const MAX_IP_NAMES = 1 << 16;
/** Stack-table keys of (Python, native) pairs start here; below it a key is a Python node alone. */
const PAIR_BASE = 2 ** 30;
/** The stack-table entry of allocations whose stack found no room. */
const OTHER = 0;
export const OTHER_STACKS_NAME = '[other stacks]';
const NO_NODE = -1;
const PROGRAM_END = MARKER_KINDS.indexOf('program-end');
// The allocator and deallocator codes as plain numbers (the visitor passes numbers).
const MALLOC: number = Allocator.Malloc;
const MMAP: number = Allocator.Mmap;
const MREMAP: number = Allocator.Mremap;
const TRACK: number = Allocator.TracemallocTrack;
const MUNMAP: number = Deallocator.Munmap;
const UNTRACK: number = Deallocator.TracemallocUntrack;

export interface IntervalProfilerOptions {
  /** Stacks the table holds at most (Pyroscope accepts 16,000 samples per profile by default). */
  readonly maxStacks?: number;
  readonly maxNodes?: number;
  readonly filter?: FrameFilter;
  readonly lineResolver?: LineResolver;
  /** Names native frames (--native): the function holding an address of an image file. */
  readonly symbolizer?: NativeSymbolizer;
}

/** A frame of a pushed stack (the shape the pprof and OTLP encoders take). */
export interface PprofFrame {
  readonly function: string;
  readonly file: string;
  /** 0 when unknown. */
  readonly line: number;
}

export interface ProfileStack {
  /** Root first; empty: no Python frame. The other-stacks entry has one frame, OTHER_STACKS_NAME. */
  readonly frames: readonly PprofFrame[];
  /** Allocated during the interval (estimated when sampled). */
  readonly allocObjects: number;
  readonly allocBytes: number;
  /** Live at the end of the interval (estimated when sampled). */
  readonly inuseObjects: number;
  readonly inuseBytes: number;
}

export interface IntervalProfile {
  readonly stacks: readonly ProfileStack[];
  readonly sampling: Sampling | undefined;
  /** Stacks in the table after this take (the other entry not counted). */
  readonly tableStacks: number;
  /** Distinct stacks refused a table entry since the start (their allocations went to the other entry). */
  readonly refusedStacks: number;
  /** Recorded events the interval held (allocations and frees seen). */
  readonly events: number;
}

export class IntervalProfiler implements CaptureVisitor {
  private hdr: CaptureHeader | undefined;
  private sampling: Sampling | undefined;
  private readonly maxStacks: number;
  private readonly maxNodes: number;
  private readonly filter: FrameFilter;
  private readonly lineResolver: LineResolver;

  private readonly nodes = new TupleInterner(3, 4096); // (parent global + 1, codeId, instr); global = id + 1
  private nodesFull = false;
  private readonly codes = new Map<number, CodeRecord>();
  /** Per stream, its local Python node ids → global node (0: no frame; NO_NODE: refused). */
  private readonly streams = new Map<number, Int32Array>();
  // Native stacks: nodes (parent global + 1, ip), per-stream maps as for Python, (Python, native) pairs.
  private readonly nativeNodes = new TupleInterner(2, 1024);
  private readonly nativeStreams = new Map<number, Int32Array>();
  private readonly pairs = new TupleInterner(2, 1024);
  private images = new ImageTable('');
  private readonly ipNames = new Map<number, PprofFrame & { readonly interpreter: boolean }>();
  private readonly symbolizer: NativeSymbolizer | undefined;

  // The stack table: index 0 is OTHER; keys are global nodes.
  private readonly stackOfNode = new Map<number, number>();
  private nodeOfStack: number[] = [NO_NODE];
  private allocObjects: number[] = [0];
  private allocBytes: number[] = [0];
  private inuseObjects: number[] = [0];
  private inuseBytes: number[] = [0];
  /** Live recorded allocations (or mapping pieces) per stack: a stack with none can leave the table. */
  private refs: number[] = [0];
  private readonly freeSlots: number[] = [];
  private refused = 0;
  private readonly refusedNodes = new Set<number>();
  private events = 0;
  /** A PROGRAM_END marker arrived: later events are memlens's release of the script's names. */
  private programEnded = false;

  private readonly live = new LiveTable(1 << 12, { indexesFrom: Infinity });
  private readonly tracked = new LiveTable(64, { indexesFrom: Infinity });
  private readonly regions = new MappedRegions();

  constructor(options: IntervalProfilerOptions = {}) {
    this.maxStacks = options.maxStacks ?? DEFAULT_MAX_STACKS;
    this.maxNodes = options.maxNodes ?? DEFAULT_MAX_NODES;
    this.filter = options.filter ?? DEFAULT_FRAME_FILTER;
    this.lineResolver = options.lineResolver ?? lineTableResolver();
    this.symbolizer = options.symbolizer;
  }

  /** The capture's header, once it arrived. */
  get captureHeader(): CaptureHeader | undefined {
    return this.hdr;
  }

  header(h: CaptureHeader): void {
    this.hdr = h;
    this.sampling = samplingOf(h);
    this.images = new ImageTable(h.executable, this.symbolizer);
  }

  // ── the visitor ────────────────────────────────────────────────────────────────────────────────

  alloc(stream: number, _seq: number, address: number, size: number, allocator: number, stack: number, nativeStack = 0): void {
    if (this.programEnded) return;
    this.events++;
    const s = this.stackOf(stream, stack, nativeStack);
    if (allocator === MMAP || allocator === MREMAP) {
      for (const p of this.regions.unmap(address, size)) this.release(p.site, p.bytes, p.lastPiece ? 1 : 0, p.lastPiece);
      this.acquire(s, size, 1);
      this.regions.add(address, size, s as SiteId, 0);
      return;
    }
    if (allocator === TRACK) {
      if (this.live.has(address) || this.regions.contains(address)) return; // malloc showed it already
      if (this.tracked.remove(address)) this.releaseRecorded(this.tracked);
      this.tracked.insert(address, size, s as SiteId, 0);
    } else if (this.live.insertOrReplace(address, size, s as SiteId, 0)) {
      this.releaseRecorded(this.live); // its free was missed
    }
    const w = sampleWeight(this.sampling, size, allocator);
    this.acquire(s, size * w, w);
  }

  free(_stream: number, _seq: number, address: number, size: number, deallocator: number): void {
    if (this.programEnded) return;
    this.events++;
    if (deallocator === MUNMAP) {
      for (const p of this.regions.unmap(address, size)) this.release(p.site, p.bytes, p.lastPiece ? 1 : 0, p.lastPiece);
      return;
    }
    const table = deallocator === UNTRACK ? this.tracked : this.live;
    if (table.remove(address)) this.releaseRecorded(table);
  }

  meta(record: MetaRecord): void {
    switch (record.type) {
      case 'frame': {
        let map = this.streams.get(record.stream);
        if (map === undefined) {
          map = new Int32Array(256);
          this.streams.set(record.stream, map);
        }
        const parent = record.parent === 0 ? 0 : record.parent < map.length ? (map[record.parent] as number) : NO_NODE;
        let global = NO_NODE;
        if (parent !== NO_NODE && !(this.nodesFull && this.nodes.size >= this.maxNodes)) {
          global = this.nodes.intern(parent, record.codeId, record.instr) + 1;
          if (this.nodes.size >= this.maxNodes) this.nodesFull = true;
        }
        if (record.id >= map.length) {
          let cap = map.length * 2;
          while (cap <= record.id) cap *= 2;
          const grown = new Int32Array(cap);
          grown.set(map);
          map = grown;
          this.streams.set(record.stream, map);
        }
        map[record.id] = global;
        break;
      }
      case 'native-frame': {
        const map = this.nativeStreams.get(record.stream);
        const parent = record.parent === 0 ? 0 : map !== undefined && record.parent < map.length ? (map[record.parent] as number) : NO_NODE;
        let global = NO_NODE;
        if (parent !== NO_NODE && this.nativeNodes.size < this.maxNodes) global = this.nativeNodes.intern(parent, record.ip) + 1;
        this.nativeStreams.set(record.stream, setGrow(map, record.id, global));
        break;
      }
      case 'image':
        this.images.add(record);
        this.ipNames.clear(); // an address may belong to the new image now
        break;
      case 'image-unload':
        // dlclose: forgotten, so that loading and unloading all day keeps the table bounded (a stack of the
        // unloaded code that still holds memory shows its addresses from now on).
        this.images.remove(record.loadBias);
        this.ipNames.clear();
        break;
      case 'stack-reset':
        this.streams.delete(record.stream);
        this.nativeStreams.delete(record.stream);
        break;
      case 'thread-exit':
        // The stream's last record: nothing will name its local nodes again.
        this.streams.delete(record.stream);
        this.nativeStreams.delete(record.stream);
        break;
      case 'code':
        this.codes.set(record.codeId, record);
        break;
      case 'marker':
        // The program's end (analysis/program-end.ts): what memlens releases after it is not the program's,
        // so the last profile holds what the program held at its end.
        if (record.kind === PROGRAM_END) this.programEnded = true;
        break;
      default:
        break;
    }
  }

  warning(_w: DecodeWarning): void {
    // A damaged block costs its events; the profiles go on.
  }

  // ── the table ──────────────────────────────────────────────────────────────────────────────────

  private stackOf(stream: number, local: number, nativeLocal: number): number {
    let node = 0;
    if (local > 0) {
      const map = this.streams.get(stream);
      node = map !== undefined && local < map.length ? (map[local] as number) : NO_NODE;
      if (node === 0) node = NO_NODE; // an id never defined (damage): not a root stack
    }
    if (node === NO_NODE) return OTHER;
    if (nativeLocal > 0) {
      const map = this.nativeStreams.get(stream);
      const native = map !== undefined && nativeLocal < map.length ? (map[nativeLocal] as number) : NO_NODE;
      if (native <= 0 || this.pairs.size >= this.maxNodes) return OTHER; // damage, or the pairs are full
      node = PAIR_BASE + this.pairs.intern(node, native);
    }
    let s = this.stackOfNode.get(node);
    if (s !== undefined) return s;
    if (this.stackOfNode.size >= this.maxStacks) {
      if (!this.refusedNodes.has(node) && this.refusedNodes.size < this.maxStacks) this.refusedNodes.add(node);
      this.refused++;
      return OTHER;
    }
    s = this.freeSlots.pop();
    if (s === undefined) {
      s = this.nodeOfStack.length;
      this.nodeOfStack.push(node);
      this.allocObjects.push(0);
      this.allocBytes.push(0);
      this.inuseObjects.push(0);
      this.inuseBytes.push(0);
      this.refs.push(0);
    } else {
      this.nodeOfStack[s] = node;
    }
    this.stackOfNode.set(node, s);
    return s;
  }

  private acquire(s: number, bytes: number, count: number): void {
    this.allocObjects[s] = (this.allocObjects[s] as number) + count;
    this.allocBytes[s] = (this.allocBytes[s] as number) + bytes;
    this.inuseObjects[s] = (this.inuseObjects[s] as number) + count;
    this.inuseBytes[s] = (this.inuseBytes[s] as number) + bytes;
    this.refs[s] = (this.refs[s] as number) + 1;
  }

  private release(s: number, bytes: number, count: number, last: boolean): void {
    this.inuseObjects[s] = (this.inuseObjects[s] as number) - count;
    this.inuseBytes[s] = (this.inuseBytes[s] as number) - bytes;
    if (last) this.refs[s] = (this.refs[s] as number) - 1;
  }

  private releaseRecorded(table: LiveTable): void {
    const w = sampleWeight(this.sampling, table.removedSize, MALLOC);
    this.release(table.removedSite, table.removedSize * w, w, true);
  }

  // ── profiles ───────────────────────────────────────────────────────────────────────────────────

  /**
   * The interval's profile: every stack that allocated during it or holds memory now (stacks with the same
   * shown frames merged), then a new interval begins. Stacks with nothing live leave the table.
   */
  take(): IntervalProfile {
    const byFrames = new Map<string, { frames: PprofFrame[]; allocObjects: number; allocBytes: number; inuseObjects: number; inuseBytes: number }>();
    for (let s = 0; s < this.nodeOfStack.length; s++) {
      const node = this.nodeOfStack[s] as number;
      if (s !== OTHER && node === NO_NODE) continue; // a free slot
      const refs = this.refs[s] as number;
      if (refs <= 0) {
        // Sums of weights drift by rounding: nothing live is exactly zero.
        this.inuseObjects[s] = 0;
        this.inuseBytes[s] = 0;
      }
      const ao = this.allocObjects[s] as number;
      if (ao > 0 || refs > 0) {
        const frames = s === OTHER ? [{ function: OTHER_STACKS_NAME, file: '', line: 0 }] : this.framesOf(node);
        const key = frames.map((f) => `${f.function}\u0000${f.file}\u0000${f.line}`).join('\u0001');
        let e = byFrames.get(key);
        if (e === undefined) {
          e = { frames, allocObjects: 0, allocBytes: 0, inuseObjects: 0, inuseBytes: 0 };
          byFrames.set(key, e);
        }
        e.allocObjects += ao;
        e.allocBytes += this.allocBytes[s] as number;
        e.inuseObjects += this.inuseObjects[s] as number;
        e.inuseBytes += this.inuseBytes[s] as number;
      }
      this.allocObjects[s] = 0;
      this.allocBytes[s] = 0;
      if (refs <= 0 && s !== OTHER) {
        this.stackOfNode.delete(node);
        this.nodeOfStack[s] = NO_NODE;
        this.freeSlots.push(s);
      }
    }
    const events = this.events;
    this.events = 0;
    return {
      stacks: [...byFrames.values()],
      sampling: this.sampling,
      tableStacks: this.stackOfNode.size,
      refusedStacks: this.refusedNodes.size,
      events,
    };
  }

  /** Allocations that found no room in the stack table since the start (their stacks went to other). */
  get refusedAllocations(): number {
    return this.refused;
  }

  /** The shown frames of a stack-table key, root first: its Python frames, then its native frames past the
   * interpreter's last one (as the reports show them: model/frames.ts). */
  private framesOf(key: number): PprofFrame[] {
    if (key < PAIR_BASE) return this.pythonFramesOf(key);
    const out = this.pythonFramesOf(this.pairs.get(key - PAIR_BASE, 0));
    const native: (PprofFrame & { readonly interpreter: boolean })[] = [];
    for (let g = this.pairs.get(key - PAIR_BASE, 1); g > 0; g = this.nativeNodes.get(g - 1, 0)) native.push(this.nativeFrame(this.nativeNodes.get(g - 1, 1)));
    native.reverse();
    let from = 0;
    if (!this.filter.showInternal) {
      for (let i = native.length - 1; i >= 0; i--) {
        if ((native[i] as { interpreter: boolean }).interpreter) {
          from = i + 1;
          break;
        }
      }
    }
    for (let i = from; i < native.length; i++) {
      const f = native[i] as PprofFrame;
      out.push({ function: f.function, file: f.file, line: 0 });
    }
    return out;
  }

  private nativeFrame(ip: number): PprofFrame & { readonly interpreter: boolean } {
    let f = this.ipNames.get(ip);
    if (f === undefined) {
      const named = this.images.name(ip);
      f = { function: named.name, file: named.file, line: 0, interpreter: named.interpreter };
      if (this.ipNames.size >= MAX_IP_NAMES) this.ipNames.clear();
      if (named.known) this.ipNames.set(ip, f);
    }
    return f;
  }

  /** The shown frames of a global Python node, root first. */
  private pythonFramesOf(node: number): PprofFrame[] {
    const out: PprofFrame[] = [];
    for (let g = node; g > 0; g = this.nodes.get(g - 1, 0)) {
      const codeId = this.nodes.get(g - 1, 1);
      const code = this.codes.get(codeId);
      if (code === undefined) {
        out.push({ function: `<unknown code ${codeId}>`, file: '<unknown>', line: 0 });
        continue;
      }
      const name = code.qualname !== '' ? code.qualname : code.name;
      const kind = pythonFrameKind(name, code.filename);
      if (kind === 'internal' ? !this.filter.showInternal : kind === 'import' ? !this.filter.showImports : false) continue;
      let line: number;
      try {
        line = this.lineResolver(code, this.nodes.get(g - 1, 2));
      } catch {
        line = 0;
      }
      out.push({ function: name, file: code.filename, line });
    }
    return out.reverse();
  }
}

/** `map` (or a new one) with `value` at `index`, grown as needed. */
function setGrow(map: Int32Array | undefined, index: number, value: number): Int32Array {
  let m = map ?? new Int32Array(256);
  if (index >= m.length) {
    let cap = m.length * 2;
    while (cap <= index) cap *= 2;
    const grown = new Int32Array(cap);
    grown.set(m);
    m = grown;
  }
  m[index] = value;
  return m;
}
