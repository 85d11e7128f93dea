// Stack resolution: from a capture's per-stream stack ids to sites, and from stack nodes to frames.
//
// The agent names stacks per stream: FRAME and NATIVE_FRAME records define nodes 1, 2, … of their stream
// (numbering restarts after a STACK_RESET), each a (parent, code, instruction) or (parent, address). Here
// they are interned into nodes of the whole capture, shared by every stream that walked the same frames,
// so an event's (stream, stack, native stack, allocator) becomes a site of the SiteTable. At the end (or
// for a live view, incrementally) nodes map to frames (function, file, line), once every CODE and IMAGE
// record they need has arrived.
//
// A capture whose stacks outgrow the agent's per-thread table (2^18 nodes) re-defines them after each
// STACK_RESET: call_sites has 29.7 M FRAMEs for 3.26 M nodes, and ~25 M events whose per-stream site cache
// was just cleared. Both are made cheap where they would be a probe into a table of millions: a FRAME's node
// is looked for first at the id after that of the stream's previous FRAME (PyNodeInterner's hint: nodes are
// re-defined in about the order they were first defined), and an event's site at its global Python node
// (`nodeSite`, tag-checked), which a STACK_RESET does not invalidate. Mapping the nodes to frames reads a
// line table once per (code, instruction), not once per node.

import type { CaptureHeader, CodeRecord, FrameRecord, ImageRecord, NativeFrameRecord } from '../capture/records.js';
import { DOUBLE_FIELD } from '../capture/records.js';
import { CaptureFormatError } from '../errors.js';
import { MAX_LINE } from './value-bounds.js';
import type { PathInfo } from './frame-kinds.js';
import { FrameTable } from './frames.js';
import { type FrameId, NO_NATIVE_NODE, NO_PY_NODE, type NativeNodeId1, type PyNodeId1, type SiteId, type StreamId, type ThreadIndex } from './ids.js';
import { ImageTable, type NativeSymbolizer } from './images.js';
import type { ThreadInfo } from './model.js';
import type { SiteTable } from './site-table.js';
import { PyNodeInterner, TupleInterner } from './tuple-interner.js';

/**
 * Line number of the instruction at byte offset `instr` of `code`; 0 if unknown. Throws CaptureFormatError
 * when the code's line table cannot be read: the frame then shows the code's first line, and the model
 * counts the code (ReplayAnomalies.unreadableLineTables).
 */
export type LineResolver = (code: CodeRecord, instr: number) => number;

/** Without a line table decoder, the best guess is the code's first line. */
export const firstLineResolver: LineResolver = (code) => code.firstLineNo;

/** A thread as the builder fills it in (the model hands out the read-only ThreadInfo). */
export type ThreadState = { -readonly [K in keyof ThreadInfo]: ThreadInfo[K] };

interface StreamState {
  /** The entry its events are attributed to now: the first, or that of its latest rename. */
  thread: ThreadIndex;
  /** The thread's first entry (its lifetime, ids and first name). */
  readonly first: ThreadIndex;
  /** The stream's own node ids (1, 2, …) → PyNodeId1 and NativeNodeId1 (0: not defined). */
  py: Int32Array;
  native: Int32Array;
  /** The global Python node (PyNodeId1) its latest FRAME defined: the next one is most often this + 1. */
  lastPyNode: number;
  // Cache of the last (stack, native stack, allocator) → site: consecutive allocations share it often.
  lastStack: number;
  lastNative: number;
  lastAllocator: number;
  lastSite: SiteId;
  // A direct-mapped cache of (stack, native stack, allocator) → site behind it: at slot k, cache[3k] the stack
  // (-1: an empty slot), cache[3k + 1] the native stack and the allocator (native × 16 + allocator), cache[3k + 2]
  // the site. Local stack ids are reused after a STACK_RESET, so the reset clears it.
  cache: Int32Array;
}

const SITE_CACHE = 1024;

/** Frame resolution kept between resolveFrames() calls. */
interface ResolvedFrames {
  readonly frames: FrameTable;
  /** Global Python and native node ids up to these are mapped. */
  py: number;
  native: number;
  readonly byCodeAndLine: Map<string, FrameId>;
  // (code id, instruction) → frame, through an index into `byInstrFrame` (-1: the code had not arrived): nodes
  // share few locations (call_sites: 3.26 M nodes), and a node whose location is known skips the code's lookup, the
  // line table and byCodeAndLine's string key. The locations in a PyNodeInterner (parent 0): Int32 keys and
  // hashTriple() rather than TupleInterner's doubles and hash4(), and a hint, the location after the last node's
  // (round thirty). Emptied when a CODE record replaces another of its id (its line table may differ).
  byCodeAndInstr: PyNodeInterner;
  byInstrFrame: Int32Array;
  /** The location (byCodeAndInstr's id) of the node mapped last. */
  lastAt: number;
  readonly byIp: Map<number, FrameId>;
  /** Nodes mapped to a placeholder: their CODE record, or the IMAGE holding their address, was missing. */
  unknownPy: PyNodeId1[];
  unknownNative: NativeNodeId1[];
  /** Images loaded when the native nodes were last mapped. */
  images: number;
}

export class StackResolver {
  /** Threads in order of first appearance: a stream's thread index is its position here. */
  readonly threads: ThreadState[] = [];
  /** Events and nodes that referenced a stack node never defined (lost to damage). */
  unknownStacks = 0;
  /** Codes whose line table the line resolver could not read. */
  readonly unreadableLineTables = new Set<number>();
  /** The thread index of the stream of the latest site() call (read right after it: no object per event). */
  lastThread = 0 as ThreadIndex;

  private paths: PathInfo = { stdlibDirs: [], sitePackages: [], sysPath: [] };
  // Interned nodes: (parent PyNodeId1, codeId, instr) and (parent NativeNodeId1, ip). The interners count
  // from 0, the node ids from 1 (0 is "none"): node id = interner id + 1.
  private readonly pyNodes = new PyNodeInterner(4096);
  private readonly nativeNodes = new TupleInterner(2, 4096);
  // The site of each Python node's event without a native stack, for one (thread, allocator): at k, for node
  // k, the site in the low 24 bits and its tag (thread × 16 + allocator + 1; 0: none) in the top 8. Global
  // nodes outlive a STACK_RESET (the re-defined nodes intern to the same ids), so after one an event finds its
  // site with one array read here rather than a probe into a table of millions of sites (call_sites: ~25 M
  // such probes). The tag check makes it exact: another thread or allocator at the node takes the SiteTable's
  // probe (and the slot, which then holds the latest). 4 bytes a node (was 8, the site and the tag apart:
  // call_sites' 3.26 M nodes, 13 MiB less through the read; docs/benchmarks.md, round twenty-four): a tag past
  // 255 (the threads past the 16th) and a site past 2^24 take the SiteTable's probe.
  private nodeSite: Int32Array = new Int32Array(4096);
  private readonly codes = new Map<number, CodeRecord>();
  private readonly streams = new Map<StreamId, StreamState>();
  /** Starts as a double (DOUBLE_FIELD, records.ts; set to −1 in the constructor): the memlens stream's id is 0xffffffff. */
  private lastStreamId = DOUBLE_FIELD as StreamId;
  private lastStream: StreamState | undefined;
  private images = new ImageTable('');
  private resolved: ResolvedFrames | undefined;

  constructor(
    private readonly sites: SiteTable,
    private readonly lineResolver: LineResolver,
    private readonly symbolizer: NativeSymbolizer | undefined,
  ) {
    this.lastStreamId = -1 as StreamId;
  }

  header(h: CaptureHeader): void {
    this.paths = { stdlibDirs: h.stdlibDirs, sitePackages: h.sitePackages, sysPath: h.sysPath };
    this.images = new ImageTable(h.executable, this.symbolizer);
    this.resolved = undefined; // frame kinds and modules depend on the header's paths
  }

  // ── hot path ─────────────────────────────────────────────────────────────────────────────────────

  /** The site of an event of `stream` whose stacks are the stream's own node ids `stack` and `nativeStack`
   * (0: none). Also sets lastThread. */
  site(stream: StreamId, stack: number, nativeStack: number, allocator: number): SiteId {
    const st = this.lastStreamId === stream && this.lastStream !== undefined ? this.lastStream : this.streamState(stream);
    this.lastThread = st.thread;
    if (stack === st.lastStack && nativeStack === st.lastNative && allocator === st.lastAllocator) return st.lastSite;
    // The key in two int32s, exact while both ids are below 2^24 and the allocator below 16 (past that, no
    // caching). Not one number, stack × 2^24 + …: V8 took it for a small integer until the stack ids passed 127,
    // then deoptimized the records loop it is inlined into (an int32 overflow, call_sites; round twenty-nine).
    let site: SiteId;
    if (stack < 16777216 && nativeStack < 16777216 && allocator >= 0 && allocator < 16) {
      const at = ((Math.imul(stack, 0x9e3779b1) ^ Math.imul(nativeStack, 0x85ebca6b) ^ allocator) & (SITE_CACHE - 1)) * 3;
      const rest = (nativeStack << 4) | allocator;
      const cache = st.cache;
      if (cache[at] === stack && cache[at + 1] === rest) {
        site = cache[at + 2] as SiteId;
      } else {
        site = this.siteOf(st, stack, nativeStack, allocator);
        cache[at] = stack;
        cache[at + 1] = rest;
        cache[at + 2] = site;
      }
    } else {
      site = this.siteOf(st, stack, nativeStack, allocator);
    }
    st.lastStack = stack;
    st.lastNative = nativeStack;
    st.lastAllocator = allocator;
    st.lastSite = site;
    return site;
  }

  /** The site of an event: its stream's stack ids mapped to global stack nodes, then interned. */
  private siteOf(st: StreamState, stack: number, nativeStack: number, allocator: number): SiteId {
    let py = NO_PY_NODE;
    if (stack > 0) {
      py = stack < st.py.length ? (st.py[stack] as PyNodeId1) : NO_PY_NODE;
      if (py === 0) this.unknownStacks++;
    }
    let nat = NO_NATIVE_NODE;
    if (nativeStack > 0) {
      nat = nativeStack < st.native.length ? (st.native[nativeStack] as NativeNodeId1) : NO_NATIVE_NODE;
      if (nat === 0) this.unknownStacks++;
    }
    if (nat !== NO_NATIVE_NODE || py === NO_PY_NODE || !(allocator >= 0 && allocator < 16 && st.thread * 16 + allocator < 255)) return this.sites.intern(py, nat, st.thread, allocator);
    const tag = st.thread * 16 + allocator + 1;
    let map = this.nodeSite;
    if (py < map.length) {
      const v = map[py]!;
      if (v >>> 24 === tag) return (v & 0xffffff) as SiteId;
    }
    const site = this.sites.intern(py, nat, st.thread, allocator);
    if (site > 0xffffff) return site;
    if (py >= map.length) this.nodeSite = map = growInt32(map, py + 1);
    map[py] = site | (tag << 24);
    return site;
  }

  /**
   * The read is over (ModelBuilder.finish()): what only the interning of nodes and sites reads is given up, the
   * Python nodes' index and `nodeSite` (call_sites: 16 + 13 MiB), before the model's frames are made beside them.
   * Returns the bytes given up. Interning again after it works, at the cost of making them again.
   *
   * Nothing of them is kept for the frames (round twenty-four's frames took both as their node columns): in malloc's
   * heap (16 MiB each, below glibc's mmap threshold) they may be its top, which glibc gives back to the system
   * only when at least 64 MiB of it is free at once; with the frames' columns held there, the free memory beneath
   * (the site table's index and peak marks) stayed resident (call_sites `stats`: +13 MB peak, docs/benchmarks.md,
   * round twenty-five). Where they are not the top, the frames' new columns take their place as well.
   */
  endOfRead(): number {
    const bytes = this.nodeSite.byteLength + this.pyNodes.dropIndex();
    this.nodeSite = new Int32Array(0);
    return bytes;
  }

  private streamState(stream: StreamId): StreamState {
    let st = this.streams.get(stream);
    if (st === undefined) {
      const index = this.threads.length as ThreadIndex;
      this.threads.push({ index, stream, osTid: 0, pythonIdent: 0, name: '', startNs: undefined, exitNs: undefined, renamedFrom: undefined, renamedAtNs: undefined });
      st = {
        thread: index,
        first: index,
        py: new Int32Array(256),
        native: new Int32Array(256),
        lastPyNode: 0,
        lastStack: -1,
        lastNative: -1,
        lastAllocator: -1,
        lastSite: 0 as SiteId,
        cache: new Int32Array(SITE_CACHE * 3).fill(-1),
      };
      this.streams.set(stream, st);
    }
    this.lastStreamId = stream;
    this.lastStream = st;
    return st;
  }

  // ── records that define stacks ───────────────────────────────────────────────────────────────────

  frame(record: FrameRecord): void {
    this.defineFrame(record.stream as StreamId, record.id, record.parent, record.codeId, record.instr);
  }

  /** FRAME `id` of `stream`: (its parent, a node id of the stream; code id; instruction offset). */
  defineFrame(stream: StreamId, id: number, localParent: number, codeId: number, instr: number): void {
    const st = this.lastStreamId === stream && this.lastStream !== undefined ? this.lastStream : this.streamState(stream);
    const parent = localParent === 0 ? 0 : localParent < st.py.length ? st.py[localParent]! : 0;
    if (localParent !== 0 && parent === 0) this.unknownStacks++;
    // PyNodeId1 = interner id + 1: the hint (the id after that of the stream's last node) is its PyNodeId1.
    const global = this.pyNodes.intern(parent, codeId, instr, st.lastPyNode) + 1;
    st.lastPyNode = global;
    st.py = setGrow(st.py, id, global);
  }

  nativeFrame(record: NativeFrameRecord): void {
    const st = this.streamState(record.stream as StreamId);
    const parent = record.parent === 0 ? 0 : record.parent < st.native.length ? st.native[record.parent]! : 0;
    if (record.parent !== 0 && parent === 0) this.unknownStacks++;
    const global = this.nativeNodes.intern(parent, record.ip) + 1; // NativeNodeId1
    st.native = setGrow(st.native, record.id, global);
  }

  /** STACK_RESET: the stream's node ids start again from 1. */
  stackReset(stream: StreamId): void {
    const st = this.streamState(stream);
    st.py.fill(0);
    st.native.fill(0);
    st.lastStack = -1;
    st.cache.fill(-1);
  }

  code(record: CodeRecord): void {
    const r = this.resolved;
    if (r !== undefined && this.codes.has(record.codeId)) {
      r.byCodeAndInstr = new PyNodeInterner(1024);
      r.byInstrFrame = new Int32Array(1024);
      r.lastAt = -1;
    }
    this.codes.set(record.codeId, record);
  }

  image(record: ImageRecord): void {
    this.images.add(record);
  }

  /** The thread of `stream` (made when the stream is first seen): its first entry. */
  threadOf(stream: StreamId): ThreadState {
    return this.threads[this.streamState(stream).first]!;
  }

  /**
   * A rename of `stream`'s thread at `timeNs` (in seq order): what it allocates from now on goes to a new
   * entry with the new name. The same name, or an OS name that is the kernel's 15-byte cut of the name in
   * effect (Python 3.14 copies Thread.name into the OS name), is no rename.
   */
  rename(stream: StreamId, name: string, timeNs: number, osName: boolean): void {
    const st = this.streamState(stream);
    const now = this.threads[st.thread]!;
    if (name === now.name || (osName && now.name.startsWith(name) && Buffer.byteLength(name) >= 15)) return;
    if (now.name === '') {
      now.name = name;
      return;
    }
    const first = this.threads[st.first]!;
    const index = this.threads.length as ThreadIndex;
    this.threads.push({ index, stream, osTid: first.osTid, pythonIdent: first.pythonIdent, name, startNs: undefined, exitNs: undefined, renamedFrom: st.first, renamedAtNs: timeNs });
    st.thread = index;
    // Cached sites carry the old entry.
    st.lastStack = -1;
    st.cache.fill(-1);
  }

  /**
   * The global nodes and thread of a location named by `stream`'s own stack ids (a CHECKPOINT entry's),
   * as the stacks are now; a node is 0 where its id was never defined.
   */
  localStacks(stream: StreamId, stack: number, nativeStack: number): { readonly py: PyNodeId1; readonly native: NativeNodeId1; readonly thread: ThreadIndex } {
    const st = this.streamState(stream);
    const py = stack > 0 ? ((st.py[stack] as PyNodeId1 | undefined) ?? NO_PY_NODE) : NO_PY_NODE;
    const native = nativeStack > 0 ? ((st.native[nativeStack] as NativeNodeId1 | undefined) ?? NO_NATIVE_NODE) : NO_NATIVE_NODE;
    return { py, native, thread: st.thread };
  }

  /** The parent of a Python stack node; NO_PY_NODE for an outermost frame. */
  pyParent(node: PyNodeId1): PyNodeId1 {
    return node > 0 && node <= this.pyNodes.size ? (this.pyNodes.parent(node - 1) as PyNodeId1) : NO_PY_NODE;
  }

  /** The code id of a Python stack node's frame. */
  pyCode(node: PyNodeId1): number {
    return node > 0 && node <= this.pyNodes.size ? this.pyNodes.codeId(node - 1) : 0;
  }

  get hasNativeNodes(): boolean {
    return this.nativeNodes.size > 0;
  }

  // ── frames ───────────────────────────────────────────────────────────────────────────────────────

  /**
   * Maps the Python and native stack nodes to frames. Incremental: nodes mapped by an earlier call keep
   * their frame, except those whose CODE record (or IMAGE, for native nodes) had not arrived then: they
   * are mapped again once it has. A frame left behind that way (`<unknown code N>`) stays in the table,
   * unused. Called once, at the end, it maps every node in id order, as a one-pass reader would.
   */
  resolveFrames(): FrameTable {
    let r = this.resolved;
    if (r === undefined) {
      r = {
        frames: new FrameTable(this.paths),
        py: 0,
        native: 0,
        byCodeAndLine: new Map(),
        byCodeAndInstr: new PyNodeInterner(1024),
        byInstrFrame: new Int32Array(1024),
        lastAt: -1,
        byIp: new Map(),
        unknownPy: [],
        unknownNative: [],
        images: -1,
      };
      this.resolved = r;
    }
    const frames = r.frames;
    const nPy = this.pyNodes.size;
    frames.pyFrame = growInt32(frames.pyFrame, nPy + 1);
    frames.pyParent = growInt32(frames.pyParent, nPy + 1);
    if (r.unknownPy.length > 0) {
      const still: PyNodeId1[] = [];
      for (const g of r.unknownPy) if (!this.mapPyNode(r, g)) still.push(g);
      r.unknownPy = still;
    }
    for (let g = (r.py + 1) as PyNodeId1; g <= nPy; g++) {
      frames.pyParent[g] = this.pyNodes.parent(g - 1);
      if (!this.mapPyNode(r, g)) r.unknownPy.push(g);
    }
    r.py = nPy;
    frames.pyNodeCount = nPy;
    frames.unknownCodes = r.unknownPy.length;

    const nNative = this.nativeNodes.size;
    frames.nativeFrame = growInt32(frames.nativeFrame, nNative + 1);
    frames.nativeParent = growInt32(frames.nativeParent, nNative + 1);
    const images = this.images.list.length;
    if (r.unknownNative.length > 0 && images !== r.images) {
      const still: NativeNodeId1[] = [];
      for (const g of r.unknownNative) if (!this.mapNativeNode(r, g)) still.push(g);
      r.unknownNative = still;
    }
    for (let g = (r.native + 1) as NativeNodeId1; g <= nNative; g++) {
      frames.nativeParent[g] = this.nativeNodes.get(g - 1, 0);
      if (!this.mapNativeNode(r, g)) r.unknownNative.push(g);
    }
    r.native = nNative;
    r.images = images;
    return frames;
  }

  /** Maps Python node `g` to its frame; false when its code object has not arrived (yet). */
  private mapPyNode(r: ResolvedFrames, g: PyNodeId1): boolean {
    const codeId = this.pyNodes.codeId(g - 1);
    const instr = this.pyNodes.instr(g - 1);
    const seen = r.byCodeAndInstr.size;
    const at = r.byCodeAndInstr.intern(0, codeId, instr, r.lastAt + 1);
    r.lastAt = at;
    if (at < seen) {
      const known = r.byInstrFrame[at]!;
      if (known >= 0) {
        r.frames.pyFrame[g] = known;
        return true;
      }
    }
    const code = this.codes.get(codeId);
    let frame: FrameId;
    if (code === undefined) {
      frame = r.frames.intern(`<unknown code ${codeId}>`, '<unknown>', 0, false, 'user');
      r.byInstrFrame = setGrow(r.byInstrFrame, at, -1);
    } else {
      let line: number;
      try {
        line = this.lineResolver(code, instr);
      } catch (e) {
        // A line table this memlens cannot read costs the line numbers, not the report.
        if (!(e instanceof CaptureFormatError)) throw e;
        this.unreadableLineTables.add(codeId);
        line = code.firstLineNo;
      }
      // A damaged table can lead past what a line number can be (a C int): the same as unreadable.
      if (!(line >= 0 && line <= MAX_LINE)) {
        this.unreadableLineTables.add(codeId);
        line = code.firstLineNo;
      }
      const key = `${codeId}:${line}`;
      const known = r.byCodeAndLine.get(key);
      if (known !== undefined) frame = known;
      else {
        frame = r.frames.intern(code.qualname !== '' ? code.qualname : code.name, code.filename, line, false);
        r.byCodeAndLine.set(key, frame);
      }
      r.byInstrFrame = setGrow(r.byInstrFrame, at, frame);
    }
    r.frames.pyFrame[g] = frame;
    return code !== undefined;
  }

  /** Maps native node `g` to its frame; false when no loaded image holds its address (yet). */
  private mapNativeNode(r: ResolvedFrames, g: NativeNodeId1): boolean {
    const ip = this.nativeNodes.get(g - 1, 1);
    let frame = r.byIp.get(ip);
    let found = true;
    if (frame === undefined) {
      const named = this.images.name(ip);
      found = named.known;
      frame = r.frames.intern(named.name, named.file, 0, true, named.interpreter ? 'internal' : 'user');
      // An address no image holds yet may be named later: do not remember its placeholder name.
      if (found) r.byIp.set(ip, frame);
    }
    r.frames.nativeFrame[g] = frame;
    return found;
  }
}

/** `arr` with room for `n` entries (doubling, contents kept). */
function growInt32(arr: Int32Array, n: number): Int32Array {
  if (n <= arr.length) return arr;
  let cap = Math.max(16, arr.length * 2);
  while (cap < n) cap *= 2;
  const grown = new Int32Array(cap);
  grown.set(arr);
  return grown;
}

function setGrow(arr: Int32Array, index: number, value: number): Int32Array {
  let a = arr;
  if (index >= a.length) {
    let cap = a.length * 2;
    while (cap <= index) cap *= 2;
    const grown = new Int32Array(cap);
    grown.set(a);
    a = grown;
  }
  a[index] = value;
  return a;
}
