// The capture format's constants: the specification in code. docs/capture-format.md is the prose;
// agent/src/format.h holds the same numbers for the C side, and format-sync.test.ts checks they agree.

/**
 * The version memlens writes (agent and TypeScript encoder), which needs a reader of that version
 * (docs/capture-format.md, "File header"). Version 3 coded ALLOC and FREE addresses against a block's slots of
 * recently used pages; 4 and 5 were group blocks and packs, which only memlens's recompression writes; 6 coded
 * frames' parents against their own ids; 7 codes addresses as references to the block's earlier events too.
 */
export const FORMAT_VERSION = 7;
export const MIN_READER_VERSION = 7;
/**
 * A sampled capture (docs/sampling.md) was version 2 with min_reader_version 2 before version 3: a version-1
 * reader would read its sizes as every allocation, wrong by the sampling factor, so it must refuse the file.
 */
export const SAMPLED_FORMAT_VERSION = 2;
/** A capture whose min_reader_version is at least this codes addresses against slots (ADDR_* below). */
export const SLOT_ADDRESS_VERSION = 3;
/**
 * A capture whose min_reader_version is at least this codes a NATIVE_FRAME's and a FRAME's parent as the node's
 * own id minus its parent's (docs/capture-format.md, "Records"): a new branch of the stack tree is a chain of
 * nodes each the child of the one before, so the field is 1 and the records of a branch that repeats one under
 * another root are the same bytes, which brotli finds (numpy_batch with both flags, packs at quality 1: 1.76 MB
 * whole, 1.46 with native parents against the id, 1.34 with Python frames' too).
 */
export const PARENT_DELTA_VERSION = 6;
/**
 * A capture whose min_reader_version is at least this may code an ALLOC's address as the k-th most recent
 * FREE's of its block and a FREE's as the k-th most recent ALLOC's (docs/capture-format.md, "Addresses").
 */
export const ADDR_REF_VERSION = 7;
/**
 * A capture that memlens's recompression wrote with group blocks (BLOCK_KIND_GROUP): version 4, and
 * min_reader_version 4, because a reader of version 3 would skip those blocks (an unknown kind) and lose
 * their records without knowing it. (The agent wrote version 3 then; a capture of a later version keeps
 * its own, the higher.)
 */
export const GROUP_FORMAT_VERSION = 4;
/**
 * A capture whose group blocks may be packs (group.ts, packPayload: the parts' payloads as they are, no
 * columns), what `memlens run`'s follower writes behind a fast writer: version 5, and min_reader_version 5,
 * because a reader of version 4 refuses a group of 0 columns and would skip its records with a warning.
 */
export const PACK_FORMAT_VERSION = 5;
/**
 * A capture whose group blocks may be of the second column layout (group.ts, GROUP_COLUMNS: 62 columns, with
 * the 12 fields of a SNAPSHOT that carries own_ns and GC_START's seq coded by field): version 8, and
 * min_reader_version 8, because a reader of version 7 refuses a group of 62 columns and would skip its
 * records with a warning. memlens's recompression writes it over captures of min_reader_version 7 (the
 * agent's today); over older ones it writes the first layout (45 columns) and raises the header as before.
 */
export const GROUP_LAYOUT2_VERSION = 8;
/** The newest version this reader reads: a file whose min_reader_version is above it is refused. */
export const READER_VERSION = 8;

/** `\x89MLENS\r\n`: the 0x89 and CR LF catch files mangled by text-mode transfers. */
export const FILE_MAGIC = Uint8Array.of(0x89, 0x4d, 0x4c, 0x45, 0x4e, 0x53, 0x0d, 0x0a);
export const FILE_HEADER_FIXED_LEN = 20;
export const MAX_HEADER_BODY_LEN = 1 << 20;

/** Every block starts with these four bytes, so a reader can resynchronize after damage. */
export const BLOCK_SYNC = Uint8Array.of(0xeb, 0x4d, 0x4c, 0x42);
export const BLOCK_SYNC_U32 = 0x424c4deb; // BLOCK_SYNC read as a little-endian u32
export const BLOCK_HEADER_LEN = 32;
export const MAX_BLOCK_PAYLOAD = 16 << 20;
export const BLOCK_FLAG_DEFLATE = 1;
/** Brotli (RFC 7932): what memlens writes when it recompresses a capture; smaller than deflate at the same speed. */
export const BLOCK_FLAG_BROTLI = 2;
export const BLOCK_FLAGS_COMPRESSED = BLOCK_FLAG_DEFLATE | BLOCK_FLAG_BROTLI;
export const BLOCK_KIND_RECORDS = 1;
/** Several streams' records in one block, stored by field (src/capture/group.ts); format version 4. */
export const BLOCK_KIND_GROUP = 2;

export const STREAM_SERVICE = 0;
export const STREAM_MEMLENS = 0xffffffff;

export const MAX_STRING_LEN = 1 << 20;

// ── Header field tags ────────────────────────────────────────────────────────────────────────────
export const enum HeaderTag {
  WriterName = 1,
  WriterVersion = 2,
  Pid = 3,
  Ppid = 4,
  Hostname = 5,
  Argv = 6,
  StartWallNs = 7,
  StartMonoNs = 8,
  PythonVersion = 9,
  PythonHexversion = 10,
  PythonImplementation = 11,
  PythonAllocator = 12,
  Options = 13,
  SampleRateBytes = 14,
  Platform = 15,
  PageSize = 16,
  CgroupLimitBytes = 17,
  MemoryIntervalMs = 18,
  MainTid = 19,
  Executable = 20,
  Cwd = 21,
  StdlibDir = 22,
  SitePackages = 23,
  SysPath = 24,
  Mode = 25,
  CgroupPath = 26,
  Script = 27,
  /** Sampled captures: allocations of at least this many bytes were all recorded (weight 1). */
  SampleExactBytes = 28,
}

export const PYTHON_ALLOCATORS = ['unknown', 'pymalloc', 'pymalloc-debug', 'malloc', 'malloc-debug', 'mimalloc', 'mimalloc-debug'] as const;
export type PythonAllocator = (typeof PYTHON_ALLOCATORS)[number];

export const OPTION_NATIVE = 1;
export const OPTION_PYTHON_ALLOCATORS = 2;
export const OPTION_AGGREGATE = 4;
export const OPTION_SAMPLED = 8;
export const OPTION_FOLLOW_FORK = 16;
/**
 * GC_START records come (agents since 2026-12-05, round sixteen): one before every GC record but that of a young
 * collection (generation 0) starting fewer than GC_START_GAP seqs after the previous GC record on a build with the
 * GIL, whose frees a reader finds among those of the GC_THIN_WINDOW seqs it keeps after each GC record
 * (analysis/gc-frees.ts).
 */
export const OPTION_GC_START = 32;
export const GC_START_GAP = 4096;
export const GC_THIN_WINDOW = 16384;

export const MODE_RUN = 1;
export const MODE_ATTACH = 2;

// ── Hot records ──────────────────────────────────────────────────────────────────────────────────
//   ALLOC  1kkkkswq   k allocator, s same stack as previous ALLOC (omitted), w absolute address, q seq+1
//   FREE   011kkwqz   k deallocator, w absolute address, q seq+1, z a size follows
export const ALLOC_BIT = 0x80;
export const ALLOC_SAME_STACK = 0x04;
export const ALLOC_ABS_ADDR = 0x02;
export const ALLOC_SEQ1 = 0x01;
export const FREE_MASK = 0xe0;
export const FREE_TAG = 0x60;
export const FREE_ABS_ADDR = 0x04;
export const FREE_SEQ1 = 0x02;
export const FREE_HAS_SIZE = 0x01;
// Addresses from version 3 (docs/capture-format.md "Addresses"): a block keeps the last address of ADDR_SLOTS
// slots; w = 0: varint (zigzag(address − slot's last) / ADDR_SLOT_UNIT) << ADDR_SLOT_BITS | slot; w = 1:
// varint zigzag((address − previous address) / 8) << ADDR_SLOT_BITS | slot, and a delta of 0 means the whole
// address follows as a varint. Writer rule: the slots are ADDR_SETS sets of ADDR_WAYS; the set is the
// address's page of 2^ADDR_PAGE_SHIFT bytes (a pymalloc pool) modulo ADDR_SETS; in it, the slot of the same
// page, else the less recently used.
export const ADDR_SLOTS = 8;
export const ADDR_SETS = 4;
export const ADDR_WAYS = 2;
export const ADDR_SLOT_BITS = 3;
export const ADDR_SLOT_UNIT = 16;
export const ADDR_PAGE_SHIFT = 14;
// Version 7: a field of w = 0 whose low bit is set is a reference, (k − 1) << 1 | 1; without it, it is the
// version-3 field of w = 0 shifted left by one. Writer rule: references of k up to ADDR_REF_MAX only, found in
// a direct-mapped table of ADDR_REF_ENTRIES addresses whose index is the top ADDR_REF_BITS bits of the low 32
// bits of (address >> 4) × ADDR_REF_HASH.
export const ADDR_REF_MAX = 1024;
export const ADDR_REF_BITS = 12;
export const ADDR_REF_ENTRIES = 4096;
export const ADDR_REF_HASH = 0x9e3779b1;
export const RESERVED_MASK = 0xe0;
export const RESERVED_TAG = 0x40;

/** Allocator of an ALLOC record (the k bits). */
export const ALLOCATORS = [
  'malloc',
  'calloc',
  'realloc',
  'posix_memalign',
  'aligned_alloc',
  'memalign',
  'valloc',
  'pvalloc',
  'mmap',
  'pymalloc_malloc',
  'pymalloc_calloc',
  'pymalloc_realloc',
  'tracemalloc_track',
  'reallocarray',
  'mremap',
  'other',
] as const;
export type AllocatorName = (typeof ALLOCATORS)[number];
export const enum Allocator {
  Malloc = 0,
  Calloc = 1,
  Realloc = 2,
  PosixMemalign = 3,
  AlignedAlloc = 4,
  Memalign = 5,
  Valloc = 6,
  Pvalloc = 7,
  Mmap = 8,
  PymallocMalloc = 9,
  PymallocCalloc = 10,
  PymallocRealloc = 11,
  TracemallocTrack = 12,
  Reallocarray = 13,
  Mremap = 14,
  Other = 15,
}

/** Deallocator of a FREE record (the k bits). */
export const DEALLOCATORS = ['free', 'munmap', 'pymalloc_free', 'tracemalloc_untrack'] as const;
export type DeallocatorName = (typeof DEALLOCATORS)[number];
export const enum Deallocator {
  Free = 0,
  Munmap = 1,
  PymallocFree = 2,
  TracemallocUntrack = 3,
}

// ── Length-prefixed records ──────────────────────────────────────────────────────────────────────
export const enum RecordType {
  Frame = 1,
  Code = 2,
  NativeFrame = 3,
  Thread = 4,
  ThreadName = 5,
  ThreadExit = 6,
  Snapshot = 7,
  Gc = 8,
  Fork = 9,
  Image = 10,
  ImageUnload = 11,
  Marker = 12,
  Barrier = 13,
  Checkpoint = 14,
  Trailer = 15,
  AgentStats = 16,
  Exit = 17,
  Note = 18,
  StackReset = 19,
  GcState = 20,
  Census = 21,
  Pressure = 22,
  GcStart = 23,
}
export const MAX_KNOWN_RECORD_TYPE = 23;

export const SNAPSHOT_HAS_HEAP = 1;
export const SNAPSHOT_HAS_CGROUP = 2;
export const SNAPSHOT_HAS_SWAP = 4;
/** A trailing varint: memlens's own time on the program's threads (SnapshotRecord.ownNs). */
export const SNAPSHOT_HAS_OWN = 8;

export const PRESSURE_HAS_FULL = 1;

export const LINETABLE_LNOTAB = 1; // co_lnotab, CPython 3.9
export const LINETABLE_310 = 2; // co_linetable, CPython 3.10
export const LINETABLE_LOCATIONS = 3; // co_linetable location table, CPython 3.11+

export const MARKER_KINDS = [
  'none',
  'tracking-started',
  'tracking-stopped',
  'attached',
  'near-oom',
  'label',
  'detached',
  'memory-pressure', // written by agents before the PRESSURE record; src/analysis/memory-pressure.ts decides now
  'capture-stopped', // writing the capture failed (the label says why: "ENOSPC: ..."); nothing follows it
  'program-end', // the program `memlens run` ran has finished; the label says what the bootstrap released next
] as const;
export type MarkerKind = (typeof MARKER_KINDS)[number];

/**
 * Why tracking stopped. 1 (`stopped`) is what agents before `exit` = 6 wrote for every stop (a detach and an
 * elapsed --duration included), so it says only that tracking stopped.
 */
export const TRAILER_REASONS = ['unknown', 'stopped', 'detach', 'duration', '_exit', 'fork-child-stopped', 'exit', 'interrupted', 'program', 'capture-stopped'] as const;
export type TrailerReason = (typeof TRAILER_REASONS)[number];

export const NOTE_KINDS = ['none', 'info', 'not-tracked', 'warning'] as const;
export type NoteKind = (typeof NOTE_KINDS)[number];
