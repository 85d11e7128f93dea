// The length-prefixed records (docs/capture-format.md, "Length-prefixed records"): one function decodes a
// payload into a MetaRecord, one encodes a MetaRecord's payload, field by field in the same order, so the
// two stay each other's inverse.

import { PRESSURE_HAS_FULL, RecordType, SNAPSHOT_HAS_CGROUP, SNAPSHOT_HAS_HEAP, SNAPSHOT_HAS_OWN, SNAPSHOT_HAS_SWAP } from './format.js';
import type { CheckpointEntry, ImageSegment, MetaRecord } from './records.js';
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
 * Decodes the payload r.buf[r.pos, r.end) of a record of type `t`. Throws ReadError when the payload is
 * shorter than its fields; bytes after the known fields are ignored (fields are only added at the end).
 * `parentDeltas`: a FRAME's and a NATIVE_FRAME's parent is coded as its id minus the parent's (PARENT_DELTA_VERSION).
 */
export function decodeMeta(t: number, r: ByteReader, stream: number, nodes: NodeCounters, parentDeltas: boolean): MetaRecord {
  switch (t as RecordType) {
    case RecordType.Frame: {
      // The id is taken even if the fields are bad: the writer defined a node, later ids count it.
      const id = ++nodes.frames;
      frameFields(r, id, parentDeltas, FRAME_SCRATCH);
      return { type: 'frame', stream, id, parent: FRAME_SCRATCH[0]!, codeId: FRAME_SCRATCH[1]!, instr: FRAME_SCRATCH[2]! };
    }
    case RecordType.Code:
      return {
        type: 'code',
        stream,
        codeId: r.varint(),
        name: r.string(),
        qualname: r.string(),
        filename: r.string(),
        firstLineNo: r.varint(),
        linetableKind: r.varint(),
        linetable: r.bytes(),
      };
    case RecordType.NativeFrame: {
      const id = ++nodes.natives;
      return { type: 'native-frame', stream, id, parent: parentDeltas ? parentOf(r, id) : r.varint(), ip: r.varint() };
    }
    case RecordType.Thread:
      return { type: 'thread', stream, osTid: r.varint(), pythonIdent: r.varint(), name: r.string(), timeNs: r.varint() };
    case RecordType.ThreadName: {
      const thread = r.varint();
      const name = r.string();
      if (r.remaining === 0) return { type: 'thread-name', stream, thread, name };
      // A rename: its seq, time and flags (1 a rename, the only kind written with a seq; 2 an OS name).
      const seq = r.varint();
      const timeNs = r.varint();
      const flags = r.remaining > 0 ? r.varint() : 1;
      return { type: 'thread-name', stream, thread, name, seq, timeNs, ...((flags & 2) !== 0 ? { osName: true } : {}) };
    }
    case RecordType.ThreadExit:
      return { type: 'thread-exit', stream, timeNs: r.varint() };
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
      const ownNs = (flags & SNAPSHOT_HAS_OWN) !== 0 && r.remaining > 0 ? r.varint() : undefined;
      return {
        type: 'snapshot',
        stream,
        seq,
        timeNs,
        rss,
        rssAnon,
        rssFile,
        rssShmem,
        swap: (flags & SNAPSHOT_HAS_SWAP) !== 0 ? swap : undefined,
        heap: (flags & SNAPSHOT_HAS_HEAP) !== 0 ? heap : undefined,
        cgroupUsage: cgroup ? cgroupUsage : undefined,
        cgroupLimit: cgroup && cgroupLimit !== 0 ? cgroupLimit : undefined,
        ...(ownNs !== undefined ? { ownNs } : {}),
      };
    }
    case RecordType.Gc: {
      const seq = r.varint();
      const timeNs = r.varint();
      const generation = r.varint();
      const collected = r.varint();
      const uncollectable = r.varint();
      const durationNs = r.varint();
      // Added after the first agents: the seq when the collection started (absent in older files).
      const startSeq = r.remaining > 0 ? r.varint() : undefined;
      return { type: 'gc', stream, seq, timeNs, generation, collected, uncollectable, durationNs, startSeq };
    }
    case RecordType.GcStart:
      return { type: 'gc-start', stream, seq: r.varint() };
    case RecordType.Fork:
      return { type: 'fork', stream, seq: r.varint(), timeNs: r.varint(), childPid: r.varint() };
    case RecordType.Image: {
      const seq = r.varint();
      const loadBias = r.varint();
      const path = r.string();
      const buildId = r.bytes();
      const n = r.varint();
      if (n > r.remaining / SEGMENT_MIN_BYTES) r.fail(`${n} segments cannot fit in the ${r.remaining} bytes left`);
      const segments: ImageSegment[] = [];
      for (let i = 0; i < n; i++) segments.push({ vaddr: r.varint(), memsz: r.varint(), prot: r.varint(), fileOffset: r.varint() });
      return { type: 'image', stream, seq, loadBias, path, buildId, segments };
    }
    case RecordType.ImageUnload:
      return { type: 'image-unload', stream, seq: r.varint(), loadBias: r.varint() };
    case RecordType.Marker:
      return { type: 'marker', stream, seq: r.varint(), timeNs: r.varint(), kind: r.varint(), label: r.string() };
    case RecordType.Barrier:
      return { type: 'barrier', stream, seq: r.varint() };
    case RecordType.Checkpoint: {
      const seq = r.varint();
      const timeNs = r.varint();
      const heap = r.varint();
      const peakHeap = r.varint();
      const peakSeq = r.varint();
      const n = r.varint();
      if (n > r.remaining / CHECKPOINT_ENTRY_MIN_BYTES) r.fail(`${n} checkpoint entries cannot fit in the ${r.remaining} bytes left`);
      const entries: CheckpointEntry[] = [];
      for (let i = 0; i < n; i++) {
        entries.push({
          stream: r.varint(),
          stack: r.varint(),
          nativeStack: r.varint(),
          allocator: r.varint(),
          totalCount: r.varint(),
          totalBytes: r.varint(),
          liveCount: r.varint(),
          liveBytes: r.varint(),
          savedPeakCount: r.varint(),
          savedPeakBytes: r.varint(),
          updatedSeq: r.varint(),
        });
      }
      return { type: 'checkpoint', stream, seq, timeNs, heap, peakHeap, peakSeq, entries };
    }
    case RecordType.Trailer:
      return {
        type: 'trailer',
        stream,
        seq: r.varint(),
        timeNs: r.varint(),
        reason: r.varint(),
        allocations: r.varint(),
        frees: r.varint(),
        bytesAllocated: r.varint(),
        droppedEvents: r.varint(),
        agentMemoryBytes: r.varint(),
      };
    case RecordType.AgentStats:
      return {
        type: 'agent-stats',
        stream,
        timeNs: r.varint(),
        agentMemoryBytes: r.varint(),
        streams: r.varint(),
        droppedEvents: r.varint(),
        blocksWritten: r.varint(),
      };
    case RecordType.Exit: {
      const e = { type: 'exit' as const, stream, timeNs: r.varint(), exitCode: r.varint(), signal: r.varint(), oomKill: r.varint(), detail: r.string() };
      const memlensSignal = r.remaining > 0 ? r.varint() : 0;
      return memlensSignal > 0 ? { ...e, memlensSignal } : e;
    }
    case RecordType.Note:
      return { type: 'note', stream, kind: r.varint(), text: r.string() };
    case RecordType.StackReset:
      nodes.frames = 0;
      nodes.natives = 0;
      return { type: 'stack-reset', stream };
    case RecordType.GcState:
      return {
        type: 'gc-state',
        stream,
        timeNs: r.varint(),
        enabled: r.varint() !== 0,
        frozenObjects: r.varint(),
        thresholds: [r.varint(), r.varint(), r.varint()],
      };
    case RecordType.Census:
      return { type: 'census', stream, seq: r.varint(), timeNs: r.varint(), label: r.string(), json: r.string() };
    case RecordType.Pressure: {
      const seq = r.varint();
      const timeNs = r.varint();
      const source = r.string();
      const full = (r.varint() & PRESSURE_HAS_FULL) !== 0;
      const some = [r.varint(), r.varint(), r.varint(), r.varint()] as const;
      const f = [r.varint(), r.varint(), r.varint(), r.varint()] as const;
      return {
        type: 'pressure',
        stream,
        seq,
        timeNs,
        source,
        someAvg10: some[0],
        someAvg60: some[1],
        someAvg300: some[2],
        someTotalUs: some[3],
        fullAvg10: full ? f[0] : undefined,
        fullAvg60: full ? f[1] : undefined,
        fullAvg300: full ? f[2] : undefined,
        fullTotalUs: full ? f[3] : undefined,
      };
    }
    default:
      return { type: 'unknown', stream, recordType: t, payload: r.buf.slice(r.pos, r.end) };
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
