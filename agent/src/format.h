/* The capture format's constants for the agent. docs/capture-format.md is the specification;
 * src/capture/format.ts holds the same numbers and src/capture/format-sync.test.ts checks both. */
#ifndef MEMLENS_FORMAT_H
#define MEMLENS_FORMAT_H

/* Version 7 (docs/capture-format.md, "File header"). The agent writes every capture, sampled or not, in
 * version 7 (min_reader_version 7); version 3 coded ALLOC and FREE addresses against slots, version 7 also
 * as references to the block's earlier events. */
#define ML_FORMAT_VERSION 7
#define ML_MIN_READER_VERSION 7
/* A sampled capture was version 2, min_reader_version 2 before version 3 (docs/sampling.md). */
#define ML_SAMPLED_FORMAT_VERSION 2
/* Captures whose min_reader_version is at least this code addresses against slots. */
#define ML_SLOT_ADDRESS_VERSION 3
/* Captures whose min_reader_version is at least this code a NATIVE_FRAME's and a FRAME's parent as the
 * node's id minus the parent's (native.c and pystack.c, node_for). */
#define ML_PARENT_DELTA_VERSION 6
/* Captures whose min_reader_version is at least this may code an ALLOC's address as the k-th most recent
 * FREE's of the block, a FREE's as the k-th most recent ALLOC's ("Addresses", references). */
#define ML_ADDR_REF_VERSION 7
#define ML_FILE_MAGIC "\x89MLENS\r\n"
#define ML_FILE_HEADER_FIXED_LEN 20
#define ML_BLOCK_SYNC_U32 0x424c4debu
#define ML_BLOCK_HEADER_LEN 32
#define ML_BLOCK_KIND_RECORDS 1
#define ML_BLOCK_FLAG_DEFLATE 1
#define ML_BLOCK_FLAG_BROTLI 2
#define ML_BLOCK_FLAGS_COMPRESSED 3
#define ML_STREAM_SERVICE 0u
#define ML_STREAM_MEMLENS 0xffffffffu
#define ML_MAX_HEADER_BODY_LEN (1u << 20)
#define ML_MAX_BLOCK_PAYLOAD (16u << 20)
#define ML_MAX_STRING_LEN (1u << 20)

/* header tags */
#define ML_H_WRITER_NAME 1
#define ML_H_WRITER_VERSION 2
#define ML_H_PID 3
#define ML_H_PPID 4
#define ML_H_HOSTNAME 5
#define ML_H_ARGV 6
#define ML_H_START_WALL_NS 7
#define ML_H_START_MONO_NS 8
#define ML_H_PYTHON_VERSION 9
#define ML_H_PYTHON_HEXVERSION 10
#define ML_H_PYTHON_IMPLEMENTATION 11
#define ML_H_PYTHON_ALLOCATOR 12
#define ML_H_OPTIONS 13
#define ML_H_SAMPLE_RATE_BYTES 14
#define ML_H_PLATFORM 15
#define ML_H_PAGE_SIZE 16
#define ML_H_CGROUP_LIMIT_BYTES 17
#define ML_H_MEMORY_INTERVAL_MS 18
#define ML_H_MAIN_TID 19
#define ML_H_EXECUTABLE 20
#define ML_H_CWD 21
#define ML_H_STDLIB_DIR 22
#define ML_H_SITE_PACKAGES 23
#define ML_H_SYS_PATH 24
#define ML_H_MODE 25
#define ML_H_CGROUP_PATH 26
#define ML_H_SCRIPT 27
#define ML_H_SAMPLE_EXACT_BYTES 28

#define ML_OPTION_NATIVE 1
#define ML_OPTION_PYTHON_ALLOCATORS 2
#define ML_OPTION_AGGREGATE 4
#define ML_OPTION_SAMPLED 8
#define ML_OPTION_FOLLOW_FORK 16
/* GC_START records come (header.c sets it; pygc.c writes them): one before every GC record but a young
 * collection's that starts fewer than ML_GC_START_GAP seqs after the previous GC record on a GIL build. */
#define ML_OPTION_GC_START 32
#define ML_GC_START_GAP 4096
/* What a reader keeps after each GC record (src/analysis/gc-frees.ts, GC_THIN_WINDOW): frees of the next
 * ML_GC_THIN_WINDOW seqs, for a collection without its GC_START. */
#define ML_GC_THIN_WINDOW 16384

#define ML_MODE_RUN 1
#define ML_MODE_ATTACH 2

/* hot records: ALLOC 1kkkkswq, FREE 011kkwqz */
#define ML_ALLOC_BIT 0x80
#define ML_ALLOC_SAME_STACK 0x04
#define ML_ALLOC_ABS_ADDR 0x02
#define ML_ALLOC_SEQ1 0x01
#define ML_FREE_TAG 0x60
#define ML_FREE_ABS_ADDR 0x04
#define ML_FREE_SEQ1 0x02
#define ML_FREE_HAS_SIZE 0x01

/* Addresses in version 3 (docs/capture-format.md "Addresses"): a block keeps the last address of 8 slots;
 * an address is a slot and a delta in units of 16 against that slot's last address (w = 0), or a slot and
 * a delta in units of 8 against the block's previous address (w = 1; delta 0: the address follows whole).
 * Writer rule: the slots are ML_ADDR_SETS sets of ML_ADDR_WAYS, the set is the address's 16 KiB page (a
 * pymalloc pool) modulo ML_ADDR_SETS; in it the slot of the same page, else the less recently used. */
#define ML_ADDR_SLOTS 8
#define ML_ADDR_SETS 4
#define ML_ADDR_WAYS 2
#define ML_ADDR_SLOT_BITS 3
#define ML_ADDR_SLOT_UNIT 16
#define ML_ADDR_PAGE_SHIFT 14
/* Version 7: a field with w = 0 whose low bit is set is a reference, (k - 1) << 1 | 1; without it, the
 * version-3 field of w = 0 shifted left by one. Writer rule: references of k up to ML_ADDR_REF_MAX only,
 * found in a direct-mapped table of ML_ADDR_REF_ENTRIES addresses (encode.h). */
#define ML_ADDR_REF_MAX 1024
#define ML_ADDR_REF_BITS 12
#define ML_ADDR_REF_ENTRIES 4096
#define ML_ADDR_REF_HASH 0x9e3779b1u

enum ml_allocator {
    ML_A_MALLOC = 0,
    ML_A_CALLOC = 1,
    ML_A_REALLOC = 2,
    ML_A_POSIX_MEMALIGN = 3,
    ML_A_ALIGNED_ALLOC = 4,
    ML_A_MEMALIGN = 5,
    ML_A_VALLOC = 6,
    ML_A_PVALLOC = 7,
    ML_A_MMAP = 8,
    ML_A_PYMALLOC_MALLOC = 9,
    ML_A_PYMALLOC_CALLOC = 10,
    ML_A_PYMALLOC_REALLOC = 11,
    ML_A_TRACEMALLOC_TRACK = 12,
    ML_A_REALLOCARRAY = 13,
    ML_A_MREMAP = 14,
    ML_A_OTHER = 15,
};

enum ml_deallocator {
    ML_D_FREE = 0,
    ML_D_MUNMAP = 1,
    ML_D_PYMALLOC_FREE = 2,
    ML_D_TRACEMALLOC_UNTRACK = 3,
};

enum ml_record_type {
    ML_R_FRAME = 1,
    ML_R_CODE = 2,
    ML_R_NATIVE_FRAME = 3,
    ML_R_THREAD = 4,
    ML_R_THREAD_NAME = 5,
    ML_R_THREAD_EXIT = 6,
    ML_R_SNAPSHOT = 7,
    ML_R_GC = 8,
    ML_R_FORK = 9,
    ML_R_IMAGE = 10,
    ML_R_IMAGE_UNLOAD = 11,
    ML_R_MARKER = 12,
    ML_R_BARRIER = 13,
    ML_R_CHECKPOINT = 14,
    ML_R_TRAILER = 15,
    ML_R_AGENT_STATS = 16,
    ML_R_EXIT = 17,
    ML_R_NOTE = 18,
    ML_R_STACK_RESET = 19,
    ML_R_GC_STATE = 20,
    ML_R_CENSUS = 21,
    ML_R_PRESSURE = 22,
    ML_R_GC_START = 23,
};

#define ML_SNAPSHOT_HAS_HEAP 1
#define ML_SNAPSHOT_HAS_CGROUP 2
#define ML_SNAPSHOT_HAS_SWAP 4
/* A trailing varint: memlens's own time on the program's threads (owntime.h, docs/capture-format.md). */
#define ML_SNAPSHOT_HAS_OWN 8

#define ML_PRESSURE_HAS_FULL 1

#define ML_LINETABLE_LNOTAB 1
#define ML_LINETABLE_310 2
#define ML_LINETABLE_LOCATIONS 3

enum ml_marker_kind {
    ML_M_TRACKING_STARTED = 1,
    ML_M_TRACKING_STOPPED = 2,
    ML_M_ATTACHED = 3,
    ML_M_NEAR_OOM = 4,
    ML_M_LABEL = 5,
    ML_M_DETACHED = 6,
    ML_M_MEMORY_PRESSURE = 7, /* written by agents before the PRESSURE record; the reader decides now */
    ML_M_CAPTURE_STOPPED = 8, /* writing the capture failed (label: why, "ENOSPC: ..."): nothing follows */
    ML_M_PROGRAM_END = 9,     /* the program run by the bootstrap has finished (label: what was released) */
};

enum ml_trailer_reason {
    ML_T_STOPPED = 1, /* the cause is not recorded: older agents wrote it for every stop */
    ML_T_DETACH = 2,
    ML_T_DURATION = 3,
    ML_T__EXIT = 4,
    ML_T_FORK_CHILD_STOPPED = 5,
    ML_T_EXIT = 6,            /* the interpreter exited (the bootstrap's atexit handler) */
    ML_T_INTERRUPTED = 7,     /* memlens was interrupted (Ctrl-C) and detached */
    ML_T_PROGRAM = 8,         /* the program stopped tracking itself (memlens.Tracker, the pytest plugin) */
    ML_T_CAPTURE_STOPPED = 9, /* the capture could not be written any more (a CAPTURE_STOPPED marker says why) */
};

enum ml_note_kind {
    ML_N_INFO = 1,
    ML_N_NOT_TRACKED = 2,
    ML_N_WARNING = 3,
};

#endif
