// What the decoder gives its consumers: the contract between src/capture and everything above it.
//
// Allocations and frees (the hot path, hundreds of millions in a big capture) reach a CaptureVisitor as
// plain numeric arguments: no object per record. Every other record is a small object of the
// MetaRecord union. Field meanings and units are those of docs/capture-format.md.

import type { PythonAllocator } from './format.js';

/** The decoded file header. Lists are empty and numbers 0 when the field was absent. */
export interface CaptureHeader {
  readonly version: number;
  readonly minReaderVersion: number;
  readonly writerName: string;
  readonly writerVersion: string;
  readonly pid: number;
  readonly ppid: number;
  readonly hostname: string;
  readonly argv: readonly string[];
  /** Unix time in ns when tracking started (bigint: does not fit a double's 53 bits). */
  readonly startWallNs: bigint;
  readonly startMonoNs: bigint;
  readonly pythonVersion: string;
  readonly pythonHexversion: number;
  readonly pythonImplementation: string;
  readonly pythonAllocator: PythonAllocator;
  /** Bit set of OPTION_* from format.ts. */
  readonly options: number;
  /** Sampled captures (OPTION_SAMPLED): the mean bytes between samples, R. */
  readonly sampleRateBytes: number;
  /** Sampled captures: allocations of at least this many bytes were all recorded, T (docs/sampling.md). */
  readonly sampleExactBytes: number;
  readonly platform: string;
  readonly pageSize: number;
  /** undefined: the process had no cgroup memory limit. */
  readonly cgroupLimitBytes: number | undefined;
  readonly memoryIntervalMs: number;
  readonly mainTid: number;
  readonly executable: string;
  readonly cwd: string;
  readonly stdlibDirs: readonly string[];
  readonly sitePackages: readonly string[];
  readonly sysPath: readonly string[];
  /** MODE_RUN or MODE_ATTACH. */
  readonly mode: number;
  readonly cgroupPath: string;
  readonly script: string;
  /** Header fields this reader does not know, kept so a re-encoder can write them back. */
  readonly unknownFields: readonly { readonly tag: number; readonly value: Uint8Array }[];
}

export interface FrameRecord {
  readonly type: 'frame';
  readonly stream: number;
  /** The node this record defines (1, 2, … per stream, restarting after a stack-reset). */
  readonly id: number;
  readonly parent: number;
  readonly codeId: number;
  /** Byte offset of the current instruction in the code's bytecode. */
  readonly instr: number;
}

export interface CodeRecord {
  readonly type: 'code';
  readonly stream: number;
  readonly codeId: number;
  readonly name: string;
  readonly qualname: string;
  readonly filename: string;
  readonly firstLineNo: number;
  /** LINETABLE_* from format.ts. */
  readonly linetableKind: number;
  readonly linetable: Uint8Array;
}

export interface NativeFrameRecord {
  readonly type: 'native-frame';
  readonly stream: number;
  readonly id: number;
  readonly parent: number;
  readonly ip: number;
}

export interface ThreadRecord {
  readonly type: 'thread';
  readonly stream: number;
  readonly osTid: number;
  readonly pythonIdent: number;
  readonly name: string;
  readonly timeNs: number;
}

export interface ThreadNameRecord {
  readonly type: 'thread-name';
  readonly stream: number;
  /** The thread's stream that is being named. */
  readonly thread: number;
  readonly name: string;
  /**
   * A rename (prctl, pthread_setname_np, `Thread.name =` after the thread was named): the seq and time it
   * happened at; the name holds from then on. Absent for a naming, which holds for the whole thread (and
   * in captures of agents before renames were recorded). Present only together.
   */
  readonly seq?: number;
  readonly timeNs?: number;
  /** The rename's name is the OS's (prctl, pthread_setname_np): the kernel keeps its first 15 bytes. */
  readonly osName?: boolean;
}

export interface ThreadExitRecord {
  readonly type: 'thread-exit';
  readonly stream: number;
  readonly timeNs: number;
}

export interface SnapshotRecord {
  readonly type: 'snapshot';
  readonly stream: number;
  readonly seq: number;
  readonly timeNs: number;
  readonly rss: number;
  readonly rssAnon: number;
  readonly rssFile: number;
  readonly rssShmem: number;
  /** undefined when the agent could not read it. */
  readonly swap: number | undefined;
  /** Present in aggregated captures; otherwise the reader computes it from the events. */
  readonly heap: number | undefined;
  readonly cgroupUsage: number | undefined;
  readonly cgroupLimit: number | undefined;
  /**
   * memlens's own time on the program's threads since tracking started (the agent's recording of their
   * events, estimated from a sample of them), ns: absent before the agent wrote it (SNAPSHOT flag 8).
   */
  readonly ownNs?: number | undefined;
}

export interface GcRecord {
  readonly type: 'gc';
  readonly stream: number;
  readonly seq: number;
  readonly timeNs: number;
  readonly generation: number;
  readonly collected: number;
  readonly uncollectable: number;
  readonly durationNs: number;
  /** The seq when the collection started: frees with a seq in [startSeq, seq) are the collector's.
   * undefined in captures written before this field existed. */
  readonly startSeq: number | undefined;
}

export interface ForkRecord {
  readonly type: 'fork';
  readonly stream: number;
  readonly seq: number;
  readonly timeNs: number;
  readonly childPid: number;
}

export interface ImageSegment {
  readonly vaddr: number;
  readonly memsz: number;
  readonly prot: number;
  readonly fileOffset: number;
}

export interface ImageRecord {
  readonly type: 'image';
  readonly stream: number;
  readonly seq: number;
  readonly loadBias: number;
  readonly path: string;
  readonly buildId: Uint8Array;
  readonly segments: readonly ImageSegment[];
}

export interface ImageUnloadRecord {
  readonly type: 'image-unload';
  readonly stream: number;
  readonly seq: number;
  readonly loadBias: number;
}

export interface MarkerRecord {
  readonly type: 'marker';
  readonly stream: number;
  readonly seq: number;
  readonly timeNs: number;
  /** MARKER_KINDS index. */
  readonly kind: number;
  readonly label: string;
}

export interface BarrierRecord {
  readonly type: 'barrier';
  readonly stream: number;
  readonly seq: number;
}

export interface CheckpointEntry {
  readonly stream: number;
  readonly stack: number;
  readonly nativeStack: number;
  readonly allocator: number;
  readonly totalCount: number;
  readonly totalBytes: number;
  readonly liveCount: number;
  readonly liveBytes: number;
  readonly savedPeakCount: number;
  readonly savedPeakBytes: number;
  readonly updatedSeq: number;
}

export interface CheckpointRecord {
  readonly type: 'checkpoint';
  readonly stream: number;
  readonly seq: number;
  readonly timeNs: number;
  readonly heap: number;
  readonly peakHeap: number;
  readonly peakSeq: number;
  readonly entries: readonly CheckpointEntry[];
}

export interface TrailerRecord {
  readonly type: 'trailer';
  readonly stream: number;
  readonly seq: number;
  readonly timeNs: number;
  /** TRAILER_REASONS index. */
  readonly reason: number;
  readonly allocations: number;
  readonly frees: number;
  readonly bytesAllocated: number;
  readonly droppedEvents: number;
  readonly agentMemoryBytes: number;
}

export interface AgentStatsRecord {
  readonly type: 'agent-stats';
  readonly stream: number;
  readonly timeNs: number;
  readonly agentMemoryBytes: number;
  readonly streams: number;
  readonly droppedEvents: number;
  readonly blocksWritten: number;
}

export interface ExitRecord {
  readonly type: 'exit';
  readonly stream: number;
  readonly timeNs: number;
  readonly exitCode: number;
  /** 0: not killed by a signal. */
  readonly signal: number;
  /** 0 no, 1 yes, 2 unknown. */
  readonly oomKill: number;
  readonly detail: string;
  /** The signal memlens itself received while the program ran and passed on or shared (Ctrl-C: 2); absent: none. */
  readonly memlensSignal?: number;
}

export interface NoteRecord {
  readonly type: 'note';
  readonly stream: number;
  /** NOTE_KINDS index. */
  readonly kind: number;
  readonly text: string;
}

export interface StackResetRecord {
  readonly type: 'stack-reset';
  readonly stream: number;
}

export interface GcStateRecord {
  readonly type: 'gc-state';
  readonly stream: number;
  readonly timeNs: number;
  readonly enabled: boolean;
  readonly frozenObjects: number;
  readonly thresholds: readonly [number, number, number];
}

/** A census of the live Python objects by type, taken in the process (docs/capture-format.md, CENSUS). */
export interface CensusRecord {
  readonly type: 'census';
  readonly stream: number;
  readonly seq: number;
  readonly timeNs: number;
  /** Why it was taken: "near-oom", "growth", "on request". */
  readonly label: string;
  /** The census as agent/python/memlens_census.py's census() returns it, in JSON. */
  readonly json: string;
}

/**
 * Memory pressure (PSI) as the kernel reported it (docs/capture-format.md, PRESSURE): written once a second
 * when a number changed. Averages are in hundredths of a percent of the time (1234 = 12.34%), totals in µs.
 */
export interface PressureRecord {
  readonly type: 'pressure';
  readonly stream: number;
  readonly seq: number;
  readonly timeNs: number;
  /** The file read: a cgroup's memory.pressure, or /proc/pressure/memory (the whole machine). */
  readonly source: string;
  /** "some": the share of time at least one task stalled waiting for memory, over 10, 60 and 300 s. */
  readonly someAvg10: number;
  readonly someAvg60: number;
  readonly someAvg300: number;
  readonly someTotalUs: number;
  /** "full": all non-idle tasks stalled at once; undefined when the kernel printed no such line. */
  readonly fullAvg10: number | undefined;
  readonly fullAvg60: number | undefined;
  readonly fullAvg300: number | undefined;
  readonly fullTotalUs: number | undefined;
}

/** A length-prefixed record of a type this reader does not know (kept for `memlens parse`). */
/**
 * A collection started (written since 2026-12-05): its seq is the GC record's start_seq; the frees from here
 * to that GC record are the collector's.
 */
export interface GcStartRecord {
  readonly type: 'gc-start';
  readonly stream: number;
  readonly seq: number;
}

export interface UnknownRecord {
  readonly type: 'unknown';
  readonly stream: number;
  readonly recordType: number;
  readonly payload: Uint8Array;
}

export type MetaRecord =
  | FrameRecord
  | CodeRecord
  | NativeFrameRecord
  | ThreadRecord
  | ThreadNameRecord
  | ThreadExitRecord
  | SnapshotRecord
  | GcRecord
  | ForkRecord
  | ImageRecord
  | ImageUnloadRecord
  | MarkerRecord
  | BarrierRecord
  | CheckpointRecord
  | TrailerRecord
  | AgentStatsRecord
  | ExitRecord
  | NoteRecord
  | StackResetRecord
  | GcStateRecord
  | CensusRecord
  | PressureRecord
  | GcStartRecord
  | UnknownRecord;

/** Why part of a file could not be read. The reader goes on after each of these. */
export interface DecodeWarning {
  readonly kind: 'damaged-block' | 'truncated' | 'bad-record' | 'unknown-block-kind';
  /** Byte offset in the file where the problem starts. */
  readonly offset: number;
  /** Bytes skipped because of it. */
  readonly skippedBytes: number;
  readonly message: string;
}

/**
 * The first value of a number field that will hold values past 2^30: byte counts, times in ns, seqs, file
 * positions, stream ids like 0xffffffff. V8 gives a field the representation of the first value stored in
 * it; a small integer (a "Smi", up to 2^30 − 1 here) makes it a Smi field, and the first value past that,
 * in the middle of a read, changes the object's shape: every optimized function that checks the shape (the
 * decoder's `recordsAt`, the orderer's and the replay's `alloc`/`freeAt`, inlined into one another) deopts
 * and is compiled again, 0.1-0.4 s of CPU and a compile's zone memory at a big read's peak
 * (docs/benchmarks.md, "Deopts and recompiles of a big read, round fourteen"). Stored first (an object
 * literal's value, a class field's initializer) and overwritten by the real start value right after, it
 * makes the field a double from the start, and later integers are stored into it as doubles. Not 0: a
 * literal 0 is a Smi, and −0 (a double) would print as "-0" through Intl if it stayed.
 */
export const DOUBLE_FIELD = 0.5;

/** A block's framing (docs/capture-format.md, "Blocks"), for `memlens parse` and other debugging tools. */
export interface BlockInfo {
  /** File offset of the block's sync mark. */
  readonly offset: number;
  /** BLOCK_FLAG_* bits. */
  readonly flags: number;
  readonly headerLen: number;
  readonly kind: number;
  readonly storedLen: number;
  readonly rawLen: number;
  readonly stream: number;
  readonly baseSeq: number;
}

/**
 * Receives a capture's records. `alloc` and `free` are the hot path: numbers only, in the order of the
 * file's blocks (decoder) or in seq order (after the orderer, see order.ts). Addresses are plain numbers:
 * user-space addresses fit in 53 bits on every platform memlens supports.
 */
/** The address of the FREE a visitor's freeAt() is called for (one process-wide slot: calls do not overlap). */
export const eventAddress = new Float64Array(1);

export interface CaptureVisitor {
  header?(header: CaptureHeader): void;
  /** `allocator`: Allocator from format.ts. `stack`/`nativeStack`: node ids of `stream` (0 = none). */
  alloc(stream: number, seq: number, address: number, size: number, allocator: number, stack: number, nativeStack: number): void;
  /** `deallocator`: Deallocator from format.ts. `size` is 0 unless the record carries one (munmap). */
  free(stream: number, seq: number, address: number, size: number, deallocator: number): void;
  /**
   * free() with the address in `eventAddress[0]` rather than as an argument; when present, the decoder calls
   * it instead. An address is a double (above 2^31): as the argument of a call that V8 does not inline it is
   * boxed, one heap object per FREE, most of a report's young garbage; in a Float64Array it is not.
   */
  freeAt?(stream: number, seq: number, size: number, deallocator: number): void;
  meta(record: MetaRecord): void;
  /**
   * A FRAME record as numbers; when present, the decoder calls it instead of meta() with a FrameRecord (no
   * object per FRAME: a capture whose stacks outgrow the agent's table has tens of millions of them).
   */
  frame?(stream: number, id: number, parent: number, codeId: number, instr: number): void;
  warning?(warning: DecodeWarning): void;
  /** Called before the records of each block the decoder reads (file order; the orderer does not pass it on). */
  block?(block: BlockInfo): void;
  /**
   * When present, the decoder hands over each block of a thread's stream (1 … 0xFFFFFFFE) undecoded, just
   * after block(): the visitor decodes it later, when it wants its records (the orderer, at the next
   * barrier), so what waits in memory is a block's stored bytes rather than an object or a row per record.
   */
  defer?(block: DeferredBlock): void;
}

/**
 * A block of a thread's stream, not decoded yet. `decode` gives its records to `visitor` (a warning, if
 * any, goes to the decoder's own visitor) and may be called once, unless the visitor stopped it: a record
 * call of `visitor` that throws STOP_BLOCK ends the decoding there, and the block can be decoded again
 * later, from its start, giving the same records (the stream's interned ids rewind to the block's start).
 * The blocks of one stream must be decoded in their file order: interned ids (FRAME nodes) count across a
 * stream's blocks.
 */
export interface DeferredBlock {
  readonly stream: number;
  /** Bytes of its records once decompressed: at most as many records. */
  readonly rawLen: number;
  decode(visitor: CaptureVisitor): void;
}

/**
 * Thrown by a visitor's record call to stop decoding a deferred block there (see DeferredBlock): a signal
 * between the orderer and the decoder, never an error to report. One object, made once (no stack to take).
 */
export const STOP_BLOCK: Error = new Error('decoding of a deferred block stopped by its visitor');
