// The length-prefixed records (docs/capture-format.md, "Length-prefixed records"): one function decodes a
// payload into a MetaRecord, one encodes a MetaRecord's payload, field by field in the same order, so the
// two stay each other's inverse.

import { PRESSURE_HAS_FULL, RecordType, SNAPSHOT_HAS_CGROUP, SNAPSHOT_HAS_HEAP, SNAPSHOT_HAS_OWN, SNAPSHOT_HAS_SWAP } from './format.js';
import type {
  AgentStatsRecord,
  BarrierRecord,
  CensusRecord,
  CheckpointEntry,
  CheckpointRecord,
  CodeRecord,
  ExitRecord,
  ForkRecord,
  FrameRecord,
  GcRecord,
  GcStartRecord,
  GcStateRecord,
  ImageRecord,
  ImageSegment,
  ImageUnloadRecord,
  MarkerRecord,
  MetaRecord,
  NativeFrameRecord,
  NoteRecord,
  PressureRecord,
  SnapshotRecord,
  StackResetRecord,
  ThreadExitRecord,
  ThreadNameRecord,
  ThreadRecord,
  TrailerRecord,
  UnknownRecord,
} from './records.js';
import type { ByteReader, ByteWriter } from './varint.js';

/** The node id counters of a stream, advanced by FRAME and NATIVE_FRAME and zeroed by STACK_RESET. */
export interface NodeCounters {
  frames: number;
  natives: number;
}

export const RECORD_TYPE_OF: Readonly<Record<Exclude<MetaRecord['type'], 'unknown'>, RecordType>> = {
  frame: RecordType.Frame,
  code: RecordType.Code,
  'native-frame': RecordType.NativeFrame,
  thread: RecordType.Thread,
  'thread-name': RecordType.ThreadName,
  'thread-exit': RecordType.ThreadExit,
  snapshot: RecordType.Snapshot,
  gc: RecordType.Gc,
  fork: RecordType.Fork,
  image: RecordType.Image,
  'image-unload': RecordType.ImageUnload,
  marker: RecordType.Marker,
  barrier: RecordType.Barrier,
  checkpoint: RecordType.Checkpoint,
  trailer: RecordType.Trailer,
  'agent-stats': RecordType.AgentStats,
  exit: RecordType.Exit,
  note: RecordType.Note,
  'stack-reset': RecordType.StackReset,
  'gc-state': RecordType.GcState,
  census: RecordType.Census,
  pressure: RecordType.Pressure,
  'gc-start': RecordType.GcStart,
};

export function recordTypeOf(rec: MetaRecord): number {
  return rec.type === 'unknown' ? rec.recordType : RECORD_TYPE_OF[rec.type];
}

const SEGMENT_MIN_BYTES = 4;
const CHECKPOINT_ENTRY_MIN_BYTES = 11;

/**
 * The first value of every field of a record this module makes (then overwritten by the field's value): so
 * that a record kind keeps one map (hidden class) for the whole read. V8 gives a field of an object literal the
 * representation of the first value stored into it: a small integer (Smi) field that later gets a double (a
 * time, an RSS, a GC's duration past 2^30, a stream of 0xffffffff) has its map deprecated and made anew, and
 * every optimized function that checked the old map deoptimizes ("wrong map") and is compiled again: the
 * decoder's records loop when it inlines the orderer's meta() (docs/benchmarks.md, "The records loop's meta
 * path, round twenty-two", and "Meta records that keep one map, round twenty-four"). `undefined` first makes
 * the field a heap object one; the value stored next, of whatever kind, makes it tagged (any value) in place
 * (the map stays, the representation most general): no later value changes the map. Tagged rather than
 * DOUBLE_FIELD's double: an optional field (a snapshot's swap, a GC's startSeq) also holds undefined, and a
 * small integer is stored as is, not boxed. Typed `never` to fit every field.
 */
const UNSET = undefined as never;

/** A record type with its fields writable: decodeMeta() fills a literal of UNSETs field by field. */
type Fill<T> = { -readonly [K in keyof T]: T[K] };

/**
 * A FRAME record (decodeMeta's): its fields tagged from the start (UNSET). Not used by the orderer's frame(): it is
 * inlined into the records loop, and the call there cost call_sites' stats +1.6-2.0 MB of peak (docs/benchmarks.md,
 * "Meta records that keep one map, round twenty-four"); its literal's fields stay small integers in practice.
 */
function frameRecord(stream: number, id: number, parent: number, codeId: number, instr: number): FrameRecord {
  const rec: Fill<FrameRecord> = { type: 'frame', stream: UNSET, id: UNSET, parent: UNSET, codeId: UNSET, instr: UNSET };
  rec.stream = stream;
  rec.id = id;
  rec.parent = parent;
  rec.codeId = codeId;
  rec.instr = instr;
  return rec;
}

/**
 * Decodes the payload r.buf[r.pos, r.end) of a record of type `t`. Throws ReadError when the payload is
 * shorter than its fields; bytes after the known fields are ignored (fields are only added at the end).
 * `parentDeltas`: a FRAME's and a NATIVE_FRAME's parent is coded as its id minus the parent's (PARENT_DELTA_VERSION).
 * Each record is a literal of UNSETs filled field by field in the payload's order (see UNSET); a field present
 * in some records of a kind only (a snapshot's ownNs) is in a literal of its own, not added to the record.
 */
export function decodeMeta(t: number, r: ByteReader, stream: number, nodes: NodeCounters, parentDeltas: boolean): MetaRecord {
  switch (t as RecordType) {
    case RecordType.Frame: {
      // The id is taken even if the fields are bad: the writer defined a node, later ids count it.
      const id = ++nodes.frames;
      frameFields(r, id, parentDeltas, FRAME_SCRATCH);
      return frameRecord(stream, id, FRAME_SCRATCH[0]!, FRAME_SCRATCH[1]!, FRAME_SCRATCH[2]!);
    }
    case RecordType.Code: {
      const rec: Fill<CodeRecord> = { type: 'code', stream: UNSET, codeId: UNSET, name: UNSET, qualname: UNSET, filename: UNSET, firstLineNo: UNSET, linetableKind: UNSET, linetable: UNSET };
      rec.stream = stream;
      rec.codeId = r.varint();
      rec.name = r.string();
      rec.qualname = r.string();
      rec.filename = r.string();
      rec.firstLineNo = r.varint();
      rec.linetableKind = r.varint();
      rec.linetable = r.bytes();
      return rec;
    }
    case RecordType.NativeFrame: {
      const id = ++nodes.natives;
      const rec: Fill<NativeFrameRecord> = { type: 'native-frame', stream: UNSET, id: UNSET, parent: UNSET, ip: UNSET };
      rec.stream = stream;
      rec.id = id;
      rec.parent = parentDeltas ? parentOf(r, id) : r.varint();
      rec.ip = r.varint();
      return rec;
    }
    case RecordType.Thread: {
      const rec: Fill<ThreadRecord> = { type: 'thread', stream: UNSET, osTid: UNSET, pythonIdent: UNSET, name: UNSET, timeNs: UNSET };
      rec.stream = stream;
      rec.osTid = r.varint();
      rec.pythonIdent = r.varint();
      rec.name = r.string();
      rec.timeNs = r.varint();
      return rec;
    }
    case RecordType.ThreadName: {
      const thread = r.varint();
      const name = r.string();
      let rec: Fill<ThreadNameRecord>;
      if (r.remaining === 0) {
        rec = { type: 'thread-name', stream: UNSET, thread: UNSET, name: UNSET };
      } else {
        // A rename: its seq, time and flags (1 a rename, the only kind written with a seq; 2 an OS name).
        const seq = r.varint();
        const timeNs = r.varint();
        const flags = r.remaining > 0 ? r.varint() : 1;
        rec =
          (flags & 2) !== 0
            ? { type: 'thread-name', stream: UNSET, thread: UNSET, name: UNSET, seq: UNSET, timeNs: UNSET, osName: true }
            : { type: 'thread-name', stream: UNSET, thread: UNSET, name: UNSET, seq: UNSET, timeNs: UNSET };
        rec.seq = seq;
        rec.timeNs = timeNs;
      }
      rec.stream = stream;
      rec.thread = thread;
      rec.name = name;
      return rec;
    }
    case RecordType.ThreadExit: {
      const rec: Fill<ThreadExitRecord> = { type: 'thread-exit', stream: UNSET, timeNs: UNSET };
      rec.stream = stream;
      rec.timeNs = r.varint();
      return rec;
    }
    case RecordType.Snapshot: {
      const seq = r.varint();
      const timeNs = r.varint();
      const flags = r.varint();
      const rss = r.varint();
      const rssAnon = r.varint();
      const rssFile = r.varint();
      const rssShmem = r.varint();
      const swap = r.varint();
      const heap = r.varint();
      const cgroupUsage = r.varint();
      const cgroupLimit = r.varint();
      const cgroup = (flags & SNAPSHOT_HAS_CGROUP) !== 0;
      // Added after the first agents (flag 8, a trailing field): memlens's own time on the program's threads.
      const own = (flags & SNAPSHOT_HAS_OWN) !== 0 && r.remaining > 0;
      const rec: Fill<SnapshotRecord> = own
        ? {
            type: 'snapshot',
            stream: UNSET,
            seq: UNSET,
            timeNs: UNSET,
            rss: UNSET,
            rssAnon: UNSET,
            rssFile: UNSET,
            rssShmem: UNSET,
            swap: UNSET,
            heap: UNSET,
            cgroupUsage: UNSET,
            cgroupLimit: UNSET,
            ownNs: UNSET,
          }
        : { type: 'snapshot', stream: UNSET, seq: UNSET, timeNs: UNSET, rss: UNSET, rssAnon: UNSET, rssFile: UNSET, rssShmem: UNSET, swap: UNSET, heap: UNSET, cgroupUsage: UNSET, cgroupLimit: UNSET };
      rec.stream = stream;
      rec.seq = seq;
      rec.timeNs = timeNs;
      rec.rss = rss;
      rec.rssAnon = rssAnon;
      rec.rssFile = rssFile;
      rec.rssShmem = rssShmem;
      rec.swap = (flags & SNAPSHOT_HAS_SWAP) !== 0 ? swap : undefined;
      rec.heap = (flags & SNAPSHOT_HAS_HEAP) !== 0 ? heap : undefined;
      rec.cgroupUsage = cgroup ? cgroupUsage : undefined;
      rec.cgroupLimit = cgroup && cgroupLimit !== 0 ? cgroupLimit : undefined;
      if (own) rec.ownNs = r.varint();
      return rec;
    }
    case RecordType.Gc: {
      const rec: Fill<GcRecord> = { type: 'gc', stream: UNSET, seq: UNSET, timeNs: UNSET, generation: UNSET, collected: UNSET, uncollectable: UNSET, durationNs: UNSET, startSeq: UNSET };
      rec.stream = stream;
      rec.seq = r.varint();
      rec.timeNs = r.varint();
      rec.generation = r.varint();
      rec.collected = r.varint();
      rec.uncollectable = r.varint();
      rec.durationNs = r.varint();
      // Added after the first agents: the seq when the collection started (absent in older files).
      rec.startSeq = r.remaining > 0 ? r.varint() : undefined;
      return rec;
    }
    case RecordType.GcStart: {
      const rec: Fill<GcStartRecord> = { type: 'gc-start', stream: UNSET, seq: UNSET };
      rec.stream = stream;
      rec.seq = r.varint();
      return rec;
    }
    case RecordType.Fork: {
      const rec: Fill<ForkRecord> = { type: 'fork', stream: UNSET, seq: UNSET, timeNs: UNSET, childPid: UNSET };
      rec.stream = stream;
      rec.seq = r.varint();
      rec.timeNs = r.varint();
      rec.childPid = r.varint();
      return rec;
    }
    case RecordType.Image: {
      const rec: Fill<ImageRecord> = { type: 'image', stream: UNSET, seq: UNSET, loadBias: UNSET, path: UNSET, buildId: UNSET, segments: UNSET };
      rec.stream = stream;
      rec.seq = r.varint();
      rec.loadBias = r.varint();
      rec.path = r.string();
      rec.buildId = r.bytes();
      const n = r.varint();
      if (n > r.remaining / SEGMENT_MIN_BYTES) r.fail(`${n} segments cannot fit in the ${r.remaining} bytes left`);
      const segments: ImageSegment[] = [];
      for (let i = 0; i < n; i++) {
        const s: Fill<ImageSegment> = { vaddr: UNSET, memsz: UNSET, prot: UNSET, fileOffset: UNSET };
        s.vaddr = r.varint();
        s.memsz = r.varint();
        s.prot = r.varint();
        s.fileOffset = r.varint();
        segments.push(s);
      }
      rec.segments = segments;
      return rec;
    }
    case RecordType.ImageUnload: {
      const rec: Fill<ImageUnloadRecord> = { type: 'image-unload', stream: UNSET, seq: UNSET, loadBias: UNSET };
      rec.stream = stream;
      rec.seq = r.varint();
      rec.loadBias = r.varint();
      return rec;
    }
    case RecordType.Marker: {
      const rec: Fill<MarkerRecord> = { type: 'marker', stream: UNSET, seq: UNSET, timeNs: UNSET, kind: UNSET, label: UNSET };
      rec.stream = stream;
      rec.seq = r.varint();
      rec.timeNs = r.varint();
      rec.kind = r.varint();
      rec.label = r.string();
      return rec;
    }
    case RecordType.Barrier: {
      const rec: Fill<BarrierRecord> = { type: 'barrier', stream: UNSET, seq: UNSET };
      rec.stream = stream;
      rec.seq = r.varint();
      return rec;
    }
    case RecordType.Checkpoint: {
      const rec: Fill<CheckpointRecord> = { type: 'checkpoint', stream: UNSET, seq: UNSET, timeNs: UNSET, heap: UNSET, peakHeap: UNSET, peakSeq: UNSET, entries: UNSET };
      rec.stream = stream;
      rec.seq = r.varint();
      rec.timeNs = r.varint();
      rec.heap = r.varint();
      rec.peakHeap = r.varint();
      rec.peakSeq = r.varint();
      const n = r.varint();
      if (n > r.remaining / CHECKPOINT_ENTRY_MIN_BYTES) r.fail(`${n} checkpoint entries cannot fit in the ${r.remaining} bytes left`);
      const entries: CheckpointEntry[] = [];
      for (let i = 0; i < n; i++) {
        const e: Fill<CheckpointEntry> = {
          stream: UNSET,
          stack: UNSET,
          nativeStack: UNSET,
          allocator: UNSET,
          totalCount: UNSET,
          totalBytes: UNSET,
          liveCount: UNSET,
          liveBytes: UNSET,
          savedPeakCount: UNSET,
          savedPeakBytes: UNSET,
          updatedSeq: UNSET,
        };
        e.stream = r.varint();
        e.stack = r.varint();
        e.nativeStack = r.varint();
        e.allocator = r.varint();
        e.totalCount = r.varint();
        e.totalBytes = r.varint();
        e.liveCount = r.varint();
        e.liveBytes = r.varint();
        e.savedPeakCount = r.varint();
        e.savedPeakBytes = r.varint();
        e.updatedSeq = r.varint();
        entries.push(e);
      }
      rec.entries = entries;
      return rec;
    }
    case RecordType.Trailer: {
      const rec: Fill<TrailerRecord> = {
        type: 'trailer',
        stream: UNSET,
        seq: UNSET,
        timeNs: UNSET,
        reason: UNSET,
        allocations: UNSET,
        frees: UNSET,
        bytesAllocated: UNSET,
        droppedEvents: UNSET,
        agentMemoryBytes: UNSET,
      };
      rec.stream = stream;
      rec.seq = r.varint();
      rec.timeNs = r.varint();
      rec.reason = r.varint();
      rec.allocations = r.varint();
      rec.frees = r.varint();
      rec.bytesAllocated = r.varint();
      rec.droppedEvents = r.varint();
      rec.agentMemoryBytes = r.varint();
      return rec;
    }
    case RecordType.AgentStats: {
      const rec: Fill<AgentStatsRecord> = { type: 'agent-stats', stream: UNSET, timeNs: UNSET, agentMemoryBytes: UNSET, streams: UNSET, droppedEvents: UNSET, blocksWritten: UNSET };
      rec.stream = stream;
      rec.timeNs = r.varint();
      rec.agentMemoryBytes = r.varint();
      rec.streams = r.varint();
      rec.droppedEvents = r.varint();
      rec.blocksWritten = r.varint();
      return rec;
    }
    case RecordType.Exit: {
      const timeNs = r.varint();
      const exitCode = r.varint();
      const signal = r.varint();
      const oomKill = r.varint();
      const detail = r.string();
      const memlensSignal = r.remaining > 0 ? r.varint() : 0;
      const rec: Fill<ExitRecord> =
        memlensSignal > 0
          ? { type: 'exit', stream: UNSET, timeNs: UNSET, exitCode: UNSET, signal: UNSET, oomKill: UNSET, detail: UNSET, memlensSignal: UNSET }
          : { type: 'exit', stream: UNSET, timeNs: UNSET, exitCode: UNSET, signal: UNSET, oomKill: UNSET, detail: UNSET };
      rec.stream = stream;
      rec.timeNs = timeNs;
      rec.exitCode = exitCode;
      rec.signal = signal;
      rec.oomKill = oomKill;
      rec.detail = detail;
      if (memlensSignal > 0) rec.memlensSignal = memlensSignal;
      return rec;
    }
    case RecordType.Note: {
      const rec: Fill<NoteRecord> = { type: 'note', stream: UNSET, kind: UNSET, text: UNSET };
      rec.stream = stream;
      rec.kind = r.varint();
      rec.text = r.string();
      return rec;
    }
    case RecordType.StackReset: {
      nodes.frames = 0;
      nodes.natives = 0;
      const rec: Fill<StackResetRecord> = { type: 'stack-reset', stream: UNSET };
      rec.stream = stream;
      return rec;
    }
    case RecordType.GcState: {
      const rec: Fill<GcStateRecord> = { type: 'gc-state', stream: UNSET, timeNs: UNSET, enabled: UNSET, frozenObjects: UNSET, thresholds: UNSET };
      rec.stream = stream;
      rec.timeNs = r.varint();
      rec.enabled = r.varint() !== 0;
      rec.frozenObjects = r.varint();
      rec.thresholds = [r.varint(), r.varint(), r.varint()];
      return rec;
    }
    case RecordType.Census: {
      const rec: Fill<CensusRecord> = { type: 'census', stream: UNSET, seq: UNSET, timeNs: UNSET, label: UNSET, json: UNSET };
      rec.stream = stream;
      rec.seq = r.varint();
      rec.timeNs = r.varint();
      rec.label = r.string();
      rec.json = r.string();
      return rec;
    }
    case RecordType.Pressure: {
      const rec: Fill<PressureRecord> = {
        type: 'pressure',
        stream: UNSET,
        seq: UNSET,
        timeNs: UNSET,
        source: UNSET,
        someAvg10: UNSET,
        someAvg60: UNSET,
        someAvg300: UNSET,
        someTotalUs: UNSET,
        fullAvg10: UNSET,
        fullAvg60: UNSET,
        fullAvg300: UNSET,
        fullTotalUs: UNSET,
      };
      rec.stream = stream;
      rec.seq = r.varint();
      rec.timeNs = r.varint();
      rec.source = r.string();
      const full = (r.varint() & PRESSURE_HAS_FULL) !== 0;
      rec.someAvg10 = r.varint();
      rec.someAvg60 = r.varint();
      rec.someAvg300 = r.varint();
      rec.someTotalUs = r.varint();
      const f0 = r.varint();
      const f1 = r.varint();
      const f2 = r.varint();
      const f3 = r.varint();
      rec.fullAvg10 = full ? f0 : undefined;
      rec.fullAvg60 = full ? f1 : undefined;
      rec.fullAvg300 = full ? f2 : undefined;
      rec.fullTotalUs = full ? f3 : undefined;
      return rec;
    }
    default: {
      const rec: Fill<UnknownRecord> = { type: 'unknown', stream: UNSET, recordType: UNSET, payload: UNSET };
      rec.stream = stream;
      rec.recordType = t;
      rec.payload = r.buf.slice(r.pos, r.end);
      return rec;
    }
  }
}

/**
 * A FRAME's parent, code id and instruction between frameFields() and their reader: decodeMeta() here, and
 * the decoder on its way to CaptureVisitor.frame() (one array: each reads them before anything else decodes).
 */
export const FRAME_SCRATCH = new Float64Array(3);

/**
 * The fields of FRAME node `id` (its id already taken from the stream's counter), into `out`: parent, code id,
 * instruction. Throws ReadError as decodeMeta(). The decoder's path for a visitor with frame(): no record
 * object per FRAME (a capture whose stacks outgrow the agent's table re-defines them after each STACK_RESET:
 * call_sites has 29.7 M FRAMEs).
 */
export function frameFields(r: ByteReader, id: number, parentDeltas: boolean, out: Float64Array): void {
  out[0] = parentDeltas ? parentOf(r, id) : r.varint();
  out[1] = r.varint();
  out[2] = r.varint();
}

/** A parent coded against its node's id `id`: 1 to id (the node's own id minus 0, an outermost frame). */
function parentOf(r: ByteReader, id: number): number {
  const at = r.pos;
  const delta = r.varint();
  if (delta === 0 || delta > id) r.fail(`parent delta ${delta} of node ${id} is not in [1, ${id}]`, at);
  return id - delta;
}

/** Writes the payload of `rec` (without type byte and length); `parentDeltas` as decodeMeta's. */
export function encodeMetaPayload(rec: MetaRecord, w: ByteWriter, parentDeltas: boolean): void {
  switch (rec.type) {
    case 'frame':
      if (parentDeltas && !(rec.parent >= 0 && rec.parent < rec.id)) throw new RangeError(`FRAME ${rec.id} of stream ${rec.stream}: parent ${rec.parent} is not below it`);
      w.varint(parentDeltas ? rec.id - rec.parent : rec.parent);
      w.varint(rec.codeId);
      w.varint(rec.instr);
      return;
    case 'code':
      w.varint(rec.codeId);
      w.string(rec.name);
      w.string(rec.qualname);
      w.string(rec.filename);
      w.varint(rec.firstLineNo);
      w.varint(rec.linetableKind);
      w.bytesField(rec.linetable);
      return;
    case 'native-frame':
      if (parentDeltas && !(rec.parent >= 0 && rec.parent < rec.id)) throw new RangeError(`NATIVE_FRAME ${rec.id} of stream ${rec.stream}: parent ${rec.parent} is not below it`);
      w.varint(parentDeltas ? rec.id - rec.parent : rec.parent);
      w.varint(rec.ip);
      return;
    case 'thread':
      w.varint(rec.osTid);
      w.varint(rec.pythonIdent);
      w.string(rec.name);
      w.varint(rec.timeNs);
      return;
    case 'thread-name':
      w.varint(rec.thread);
      w.string(rec.name);
      if (rec.seq !== undefined) {
        w.varint(rec.seq);
        w.varint(rec.timeNs ?? 0);
        w.varint(rec.osName === true ? 3 : 1);
      }
      return;
    case 'thread-exit':
      w.varint(rec.timeNs);
      return;
    case 'snapshot': {
      const cgroup = rec.cgroupUsage !== undefined || rec.cgroupLimit !== undefined;
      const flags =
        (rec.heap !== undefined ? SNAPSHOT_HAS_HEAP : 0) | (cgroup ? SNAPSHOT_HAS_CGROUP : 0) | (rec.swap !== undefined ? SNAPSHOT_HAS_SWAP : 0) | (rec.ownNs !== undefined ? SNAPSHOT_HAS_OWN : 0);
      w.varint(rec.seq);
      w.varint(rec.timeNs);
      w.varint(flags);
      w.varint(rec.rss);
      w.varint(rec.rssAnon);
      w.varint(rec.rssFile);
      w.varint(rec.rssShmem);
      w.varint(rec.swap ?? 0);
      w.varint(rec.heap ?? 0);
      w.varint(rec.cgroupUsage ?? 0);
      w.varint(rec.cgroupLimit ?? 0);
      if (rec.ownNs !== undefined) w.varint(rec.ownNs);
      return;
    }
    case 'gc':
      w.varint(rec.seq);
      w.varint(rec.timeNs);
      w.varint(rec.generation);
      w.varint(rec.collected);
      w.varint(rec.uncollectable);
      w.varint(rec.durationNs);
      if (rec.startSeq !== undefined) w.varint(rec.startSeq);
      return;
    case 'gc-start':
      w.varint(rec.seq);
      return;
    case 'fork':
      w.varint(rec.seq);
      w.varint(rec.timeNs);
      w.varint(rec.childPid);
      return;
    case 'image':
      w.varint(rec.seq);
      w.varint(rec.loadBias);
      w.string(rec.path);
      w.bytesField(rec.buildId);
      w.varint(rec.segments.length);
      for (const s of rec.segments) {
        w.varint(s.vaddr);
        w.varint(s.memsz);
        w.varint(s.prot);
        w.varint(s.fileOffset);
      }
      return;
    case 'image-unload':
      w.varint(rec.seq);
      w.varint(rec.loadBias);
      return;
    case 'marker':
      w.varint(rec.seq);
      w.varint(rec.timeNs);
      w.varint(rec.kind);
      w.string(rec.label);
      return;
    case 'barrier':
      w.varint(rec.seq);
      return;
    case 'checkpoint':
      w.varint(rec.seq);
      w.varint(rec.timeNs);
      w.varint(rec.heap);
      w.varint(rec.peakHeap);
      w.varint(rec.peakSeq);
      w.varint(rec.entries.length);
      for (const e of rec.entries) {
        w.varint(e.stream);
        w.varint(e.stack);
        w.varint(e.nativeStack);
        w.varint(e.allocator);
        w.varint(e.totalCount);
        w.varint(e.totalBytes);
        w.varint(e.liveCount);
        w.varint(e.liveBytes);
        w.varint(e.savedPeakCount);
        w.varint(e.savedPeakBytes);
        w.varint(e.updatedSeq);
      }
      return;
    case 'trailer':
      w.varint(rec.seq);
      w.varint(rec.timeNs);
      w.varint(rec.reason);
      w.varint(rec.allocations);
      w.varint(rec.frees);
      w.varint(rec.bytesAllocated);
      w.varint(rec.droppedEvents);
      w.varint(rec.agentMemoryBytes);
      return;
    case 'agent-stats':
      w.varint(rec.timeNs);
      w.varint(rec.agentMemoryBytes);
      w.varint(rec.streams);
      w.varint(rec.droppedEvents);
      w.varint(rec.blocksWritten);
      return;
    case 'exit':
      w.varint(rec.timeNs);
      w.varint(rec.exitCode);
      w.varint(rec.signal);
      w.varint(rec.oomKill);
      w.string(rec.detail);
      if (rec.memlensSignal !== undefined && rec.memlensSignal > 0) w.varint(rec.memlensSignal);
      return;
    case 'note':
      w.varint(rec.kind);
      w.string(rec.text);
      return;
    case 'stack-reset':
      return;
    case 'gc-state':
      w.varint(rec.timeNs);
      w.varint(rec.enabled ? 1 : 0);
      w.varint(rec.frozenObjects);
      w.varint(rec.thresholds[0]);
      w.varint(rec.thresholds[1]);
      w.varint(rec.thresholds[2]);
      return;
    case 'census':
      w.varint(rec.seq);
      w.varint(rec.timeNs);
      w.string(rec.label);
      w.string(rec.json);
      return;
    case 'pressure': {
      const full = rec.fullAvg10 !== undefined || rec.fullAvg60 !== undefined || rec.fullAvg300 !== undefined || rec.fullTotalUs !== undefined;
      w.varint(rec.seq);
      w.varint(rec.timeNs);
      w.string(rec.source);
      w.varint(full ? PRESSURE_HAS_FULL : 0);
      w.varint(rec.someAvg10);
      w.varint(rec.someAvg60);
      w.varint(rec.someAvg300);
      w.varint(rec.someTotalUs);
      w.varint(rec.fullAvg10 ?? 0);
      w.varint(rec.fullAvg60 ?? 0);
      w.varint(rec.fullAvg300 ?? 0);
      w.varint(rec.fullTotalUs ?? 0);
      return;
    }
    case 'unknown':
      w.raw(rec.payload);
      return;
  }
}
