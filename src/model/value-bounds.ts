// What a capture's values can possibly be: the one rule every report follows for out-of-range values
// (docs/reports.md, "Impossible values"). The decoder already refuses what the format cannot hold (a varint
// above 2^53 − 1, a negative address or stack node); this is about values the format holds but no process
// can have. A record that holds one is impossible: the model leaves it out whole and counts it, and every
// report says how many and shows the first. Never clamped: a clamped figure is one nobody measured.
//
// Bounds, and why:
//   - bytes held at once (an allocation or a mapping, a munmap's length, what is live, RSS and its parts,
//     swap, cgroup usage, a checkpoint's live and peak bytes): at most 2^48 (256 TiB), the largest address
//     space a Linux process gets (x86-64: 128 TiB; arm64: 256 TiB; more takes 5-level page tables and an
//     explicit request in every mmap, which no allocator makes). Every sum of live amounts then stays an
//     exact integer (2^48 × 32 = 2^53).
//   - objects: at most 2^44, since a Python object takes at least 16 bytes.
//   - counts of events: below 2^53 in all (every allocation and free takes its own seq, and seqs are
//     below 2^53); a location cannot hold more allocations or bytes than it made.
//   - an allocation's address: not 0 (NULL is how an allocator fails);
//   - a line number: at most 2^31 − 1 (CPython keeps them in C ints);
//   - an exit status: 0–255; a signal: 1–64; a process id: at most 2^22 (the kernel's PID_MAX_LIMIT).
// Totals over time (bytes allocated during the whole run) are sums of possible sizes and are not bounded:
// they may pass 2^53 in a long run and are then approximate, never negative.
//
// A cgroup limit above 2^48 is possible (cgroup v1 writes 2^63 − 4096 for "no limit") but can never be
// reached: it reads as no limit, which is not an anomaly.

import type { CheckpointEntry, CheckpointRecord, MetaRecord, SnapshotRecord } from '../capture/records.js';

/** The most bytes a process can hold at once (see above). */
export const MAX_PROCESS_BYTES = 2 ** 48;
/** The most Python objects a process can hold at once: each takes at least 16 bytes. */
export const MAX_OBJECTS = MAX_PROCESS_BYTES / 16;
/** The kernel's PID_MAX_LIMIT: no process or thread id is above it. */
export const MAX_PID = 2 ** 22;
/** Line numbers are C ints in CPython (co_firstlineno, the line tables' results). */
export const MAX_LINE = 2 ** 31 - 1;
/** Signals are 1–64 on Linux (SIGRTMAX). */
export const MAX_SIGNAL = 64;

/** An impossible value: the record it was in, the field, the value (for the report's note). */
export interface ImpossibleValue {
  /** The record's type as the capture format names it (`alloc`, `snapshot`, `checkpoint entry`, …). */
  readonly record: string;
  readonly field: string;
  readonly value: number;
  /** The field is an amount of bytes (the note formats it as one). */
  readonly bytes: boolean;
}

function bytesOver(record: string, field: string, value: number | undefined): ImpossibleValue | undefined {
  return value !== undefined && value > MAX_PROCESS_BYTES ? { record, field, value, bytes: true } : undefined;
}

function countOver(record: string, field: string, value: number, max: number): ImpossibleValue | undefined {
  return value > max ? { record, field, value, bytes: false } : undefined;
}

/** The first impossible value of an ALLOC (its address, its size, or the heap it would make), or undefined. */
export function impossibleAlloc(address: number, size: number, heap: number): ImpossibleValue | undefined {
  // NULL is how an allocator says it failed: no allocation is ever at address 0.
  if (address === 0) return { record: 'alloc', field: 'address', value: 0, bytes: false };
  if (size > MAX_PROCESS_BYTES) return { record: 'alloc', field: 'size', value: size, bytes: true };
  if (size > MAX_PROCESS_BYTES - heap) return { record: 'alloc', field: 'live heap with it', value: heap + size, bytes: true };
  return undefined;
}

/** The first impossible value of a FREE's size (munmap), or undefined. */
export function impossibleFree(size: number): ImpossibleValue | undefined {
  return bytesOver('free', 'size', size);
}

function impossibleSnapshot(r: SnapshotRecord): ImpossibleValue | undefined {
  return (
    bytesOver('snapshot', 'rss', r.rss) ??
    bytesOver('snapshot', 'rss_anon', r.rssAnon) ??
    bytesOver('snapshot', 'rss_file', r.rssFile) ??
    bytesOver('snapshot', 'rss_shmem', r.rssShmem) ??
    bytesOver('snapshot', 'swap', r.swap) ??
    bytesOver('snapshot', 'heap', r.heap) ??
    bytesOver('snapshot', 'cgroup_usage', r.cgroupUsage)
  );
}

function impossibleCheckpoint(r: CheckpointRecord): ImpossibleValue | undefined {
  return bytesOver('checkpoint', 'heap', r.heap) ?? bytesOver('checkpoint', 'peak_heap', r.peakHeap);
}

/**
 * The first impossible value of a checkpoint entry: a location cannot hold more allocations or bytes than
 * it made, nor more bytes than a process can. (Its seqs are not compared with the checkpoint's: a thread
 * may take a later seq and update its location while the agent copies the entries.)
 */
export function impossibleEntry(e: CheckpointEntry): ImpossibleValue | undefined {
  const r = 'checkpoint entry';
  return (
    countOver(r, 'live_count', e.liveCount, e.totalCount) ??
    countOver(r, 'saved_peak_count', e.savedPeakCount, e.totalCount) ??
    bytesOver(r, 'live_bytes', e.liveBytes) ??
    bytesOver(r, 'saved_peak_bytes', e.savedPeakBytes) ??
    countOver(r, 'live_bytes', e.liveBytes, e.totalBytes)
  );
}

/** The first impossible value of a record off the hot path, or undefined. */
export function impossibleMeta(r: MetaRecord): ImpossibleValue | undefined {
  switch (r.type) {
    case 'snapshot':
      return impossibleSnapshot(r);
    case 'checkpoint':
      return impossibleCheckpoint(r);
    case 'gc':
      return (
        countOver('gc', 'collected', r.collected, MAX_OBJECTS) ??
        countOver('gc', 'uncollectable', r.uncollectable, MAX_OBJECTS) ??
        (r.startSeq !== undefined ? countOver('gc', 'start_seq', r.startSeq, r.seq) : undefined)
      );
    case 'gc-state':
      return countOver('gc_state', 'frozen_objects', r.frozenObjects, MAX_OBJECTS);
    case 'code':
      return countOver('code', 'first_line_no', r.firstLineNo, MAX_LINE);
    case 'thread':
      return countOver('thread', 'os_tid', r.osTid, MAX_PID);
    case 'fork':
      return countOver('fork', 'child_pid', r.childPid, MAX_PID);
    case 'exit':
      return countOver('exit', 'exit_code', r.exitCode, 255) ?? countOver('exit', 'signal', r.signal, MAX_SIGNAL) ?? countOver('exit', 'oom_kill', r.oomKill, 2);
    case 'trailer':
      return bytesOver('trailer', 'agent_memory_bytes', r.agentMemoryBytes);
    case 'agent-stats':
      return bytesOver('agent_stats', 'agent_memory_bytes', r.agentMemoryBytes);
    default:
      return undefined;
  }
}

/** A cgroup limit a process could reach, or undefined for none (0, absent, or above what a process can hold). */
export function reachableLimit(limit: number | undefined): number | undefined {
  return limit === undefined || limit === 0 || limit > MAX_PROCESS_BYTES ? undefined : limit;
}

/** Counts impossible values and keeps the first, for the report's note. */
export class ImpossibleValues {
  count = 0;
  first: ImpossibleValue | undefined;

  /** Counts `v` if there is one; true when there was (the caller leaves the record out). */
  add(v: ImpossibleValue | undefined): boolean {
    if (v === undefined) return false;
    this.count++;
    this.first ??= v;
    return true;
  }
}
