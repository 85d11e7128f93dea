// Captures made with CaptureWriter for tests, fixtures and benchmarks.
//
// - everyRecordItems(): every record type with edge values (0, 2^53 − 1, empty and non-ASCII strings), on
//   several streams, in file order (each stream's block is closed before another stream writes).
// - writeRealistic(): a long stream shaped like a Python program's: a few threads that take turns in runs
//   (the GIL), size classes and address reuse like pymalloc arenas and glibc malloc, a call tree of
//   frames that grows as new code runs, snapshots every 10 ms of events, barriers every 50 ms, GC records.

import { CaptureWriter } from '../../src/capture/encoder.js';
import { Allocator, Deallocator, OPTION_NATIVE } from '../../src/capture/format.js';
import type { HeaderInput } from '../../src/capture/header.js';
import { writeItem, type Item } from './collect.js';
import { prng } from './prng.js';

export const MAX = Number.MAX_SAFE_INTEGER;

export const TEST_HEADER: HeaderInput = {
  writerName: 'memlens',
  writerVersion: '0.1.0',
  pid: 4242,
  ppid: 1,
  hostname: 'host-é',
  argv: ['python3', 'app.py', '--größe', ''],
  startWallNs: 1732694400123456789n,
  startMonoNs: 18446744073709551615n,
  pythonVersion: '3.11.7',
  pythonHexversion: 0x30b07f0,
  pythonImplementation: 'cpython',
  pythonAllocator: 'pymalloc',
  options: OPTION_NATIVE,
  sampleRateBytes: 0,
  platform: 'linux-x86_64',
  pageSize: 4096,
  cgroupLimitBytes: 0,
  memoryIntervalMs: 10,
  mainTid: 4242,
  executable: '/usr/bin/python3',
  cwd: '/srv/app',
  stdlibDirs: ['/usr/lib/python3.11', '/usr/lib/python3.11/lib-dynload'],
  sitePackages: ['/srv/venv/lib/python3.11/site-packages'],
  sysPath: ['/srv/app', '/usr/lib/python3.11'],
  mode: 1,
  cgroupPath: '/user.slice',
  script: 'app.py',
  unknownFields: [
    { tag: 99, value: Uint8Array.of(1, 2, 3) },
    { tag: 1000, value: new Uint8Array(0) },
  ],
};

/** Every record type with edge values. With `native`, ALLOC records carry native stacks. */
export function everyRecordItems(native = true): Item[] {
  const items: Item[] = [];
  const t1 = 1;
  const t2 = 2;
  const svc = 0;
  items.push({ type: 'thread', stream: t1, osTid: 4242, pythonIdent: 140000000000000, name: 'MainThread', timeNs: 0 });
  items.push({ type: 'code', stream: t1, codeId: 1, name: '<module>', qualname: '<module>', filename: 'app.py', firstLineNo: 1, linetableKind: 3, linetable: Uint8Array.of(0x80, 0, 0xd8, 1) });
  items.push({ type: 'code', stream: t1, codeId: MAX, name: '', qualname: '', filename: '', firstLineNo: 0, linetableKind: 1, linetable: new Uint8Array(0) });
  items.push({ type: 'code', stream: t1, codeId: 2, name: 'größe_β', qualname: 'Klasse.größe_β', filename: '/srv/app/日本.py', firstLineNo: MAX, linetableKind: 2, linetable: new Uint8Array(300).fill(7) });
  items.push({ type: 'frame', stream: t1, id: 1, parent: 0, codeId: 1, instr: 0 });
  items.push({ type: 'frame', stream: t1, id: 2, parent: 1, codeId: 2, instr: MAX });
  items.push({ type: 'native-frame', stream: t1, id: 1, parent: 0, ip: 0x7f0000001234 });
  items.push({ type: 'native-frame', stream: t1, id: 2, parent: 1, ip: MAX });
  const nat = (n: number): number => (native ? n : 0);
  items.push({ type: 'alloc', stream: t1, seq: 1, address: 0x55555555a000, size: 0, allocator: Allocator.Malloc, stack: 0, nativeStack: 0 });
  items.push({ type: 'alloc', stream: t1, seq: 2, address: 0x55555555a040, size: 64, allocator: Allocator.PymallocMalloc, stack: 2, nativeStack: nat(2) });
  items.push({ type: 'alloc', stream: t1, seq: 3, address: 0x55555555a041, size: MAX, allocator: Allocator.Other, stack: 2, nativeStack: nat(1) });
  items.push({ type: 'free', stream: t1, seq: 4, address: 0x55555555a041, size: 0, deallocator: Deallocator.Free });
  items.push({ type: 'alloc', stream: t1, seq: 100, address: MAX, size: 1, allocator: Allocator.Mmap, stack: 1, nativeStack: nat(0) });
  items.push({ type: 'free', stream: t1, seq: 101, address: 0, size: 4096, deallocator: Deallocator.Munmap });
  items.push({ type: 'free', stream: t1, seq: MAX - 5, address: 8, size: MAX, deallocator: Deallocator.TracemallocUntrack });
  for (let k = 0; k < 16; k++) {
    items.push({ type: 'alloc', stream: t1, seq: MAX - 4, address: 0x1000 + 8 * k, size: k, allocator: k, stack: k % 3, nativeStack: nat(k % 2) });
  }
  items.push({ type: 'free', stream: t1, seq: MAX - 4, address: 0x7ffffffff000, size: 0, deallocator: Deallocator.PymallocFree });
  items.push({ type: 'stack-reset', stream: t1 });
  items.push({ type: 'frame', stream: t1, id: 1, parent: 0, codeId: 2, instr: 6 });
  items.push({ type: 'native-frame', stream: t1, id: 1, parent: 0, ip: 1 });
  items.push({ type: 'gc', stream: t1, seq: MAX, timeNs: MAX, generation: 2, collected: 0, uncollectable: MAX, durationNs: 1, startSeq: undefined });
  items.push({ type: 'fork', stream: t1, seq: 7, timeNs: 8, childPid: 4243 });
  items.push({ type: 'thread-exit', stream: t1, timeNs: MAX });
  items.push({ type: 'thread', stream: t2, osTid: 4250, pythonIdent: 0, name: '', timeNs: 5 });
  items.push({ type: 'frame', stream: t2, id: 1, parent: 0, codeId: 1, instr: 2 });
  items.push({ type: 'alloc', stream: t2, seq: 5, address: 0x7f0000000000, size: 1 << 20, allocator: Allocator.Calloc, stack: 1, nativeStack: 0 });
  items.push({ type: 'free', stream: t2, seq: 6, address: 0x7f0000000000, size: 0, deallocator: Deallocator.Free });
  items.push({ type: 'marker', stream: t2, seq: 6, timeNs: 9, kind: 5, label: 'phase → 2' });
  items.push({ type: 'snapshot', stream: svc, seq: 0, timeNs: 0, rss: 0, rssAnon: 0, rssFile: 0, rssShmem: 0, swap: undefined, heap: undefined, cgroupUsage: undefined, cgroupLimit: undefined });
  items.push({ type: 'snapshot', stream: svc, seq: MAX, timeNs: MAX, rss: MAX, rssAnon: 1, rssFile: 2, rssShmem: 3, swap: 0, heap: MAX, cgroupUsage: 5, cgroupLimit: MAX });
  items.push({ type: 'snapshot', stream: svc, seq: 9, timeNs: 10, rss: 11, rssAnon: 1, rssFile: 2, rssShmem: 3, swap: 4, heap: undefined, cgroupUsage: 0, cgroupLimit: undefined });
  items.push({ type: 'thread-name', stream: svc, thread: t2, name: 'worker-1' });
  items.push({
    type: 'image',
    stream: svc,
    seq: 1,
    loadBias: 0x7f1234560000,
    path: '/usr/lib/x86_64-linux-gnu/libc.so.6',
    buildId: Uint8Array.of(0xde, 0xad, 0xbe, 0xef),
    segments: [
      { vaddr: 0, memsz: 0x28000, prot: 4, fileOffset: 0 },
      { vaddr: 0x28000, memsz: MAX, prot: 5, fileOffset: 0x28000 },
    ],
  });
  items.push({ type: 'image', stream: svc, seq: 2, loadBias: 0, path: '', buildId: new Uint8Array(0), segments: [] });
  items.push({ type: 'image-unload', stream: svc, seq: 3, loadBias: 0x7f1234560000 });
  items.push({ type: 'barrier', stream: svc, seq: 7 });
  items.push({ type: 'checkpoint', stream: svc, seq: 10, timeNs: 11, heap: 12, peakHeap: MAX, peakSeq: 9, entries: [] });
  items.push({
    type: 'checkpoint',
    stream: svc,
    seq: 11,
    timeNs: 12,
    heap: 13,
    peakHeap: 14,
    peakSeq: 10,
    entries: [
      { stream: 1, stack: 2, nativeStack: 0, allocator: 9, totalCount: 1, totalBytes: 64, liveCount: 1, liveBytes: 64, savedPeakCount: 0, savedPeakBytes: 0, updatedSeq: 2 },
      { stream: MAX, stack: MAX, nativeStack: MAX, allocator: 15, totalCount: MAX, totalBytes: MAX, liveCount: MAX, liveBytes: MAX, savedPeakCount: MAX, savedPeakBytes: MAX, updatedSeq: MAX },
    ],
  });
  items.push({ type: 'trailer', stream: svc, seq: 102, timeNs: 103, reason: 1, allocations: 20, frees: 6, bytesAllocated: MAX, droppedEvents: 0, agentMemoryBytes: 1 << 20 });
  items.push({ type: 'agent-stats', stream: svc, timeNs: 1, agentMemoryBytes: 2, streams: 3, droppedEvents: 4, blocksWritten: 5 });
  items.push({ type: 'gc-state', stream: svc, timeNs: 1, enabled: true, frozenObjects: 0, thresholds: [700, 10, 10] });
  items.push({ type: 'gc-state', stream: svc, timeNs: 2, enabled: false, frozenObjects: MAX, thresholds: [0, 0, MAX] });
  items.push({ type: 'note', stream: svc, kind: 2, text: 'libfoo.so defines its own malloc: not tracked' });
  items.push({ type: 'note', stream: svc, kind: 1, text: '' });
  items.push({ type: 'census', stream: t1, seq: 101, timeNs: 9, label: 'near-oom', json: '{"kind": "census", "types": [{"type": "bytes", "count": 2, "bytes": 80}]}' });
  items.push({
    type: 'pressure',
    stream: svc,
    seq: 12,
    timeNs: 13,
    source: '/sys/fs/cgroup/job/memory.pressure',
    someAvg10: 1234,
    someAvg60: 56,
    someAvg300: 7,
    someTotalUs: 1171218,
    fullAvg10: 0,
    fullAvg60: 10_000,
    fullAvg300: MAX,
    fullTotalUs: 82806,
  });
  items.push({
    type: 'pressure',
    stream: svc,
    seq: 13,
    timeNs: MAX,
    source: '',
    someAvg10: 0,
    someAvg60: 0,
    someAvg300: 0,
    someTotalUs: MAX,
    fullAvg10: undefined,
    fullAvg60: undefined,
    fullAvg300: undefined,
    fullTotalUs: undefined,
  });
  items.push({ type: 'unknown', stream: svc, recordType: 63, payload: Uint8Array.of(1, 2, 3, 0, 0xff) });
  items.push({ type: 'unknown', stream: svc, recordType: 62, payload: new Uint8Array(0) });
  items.push({ type: 'exit', stream: 0xffffffff, timeNs: 0, exitCode: 0, signal: 9, oomKill: 1, detail: 'Out of memory: Killed process 4242 (python3)' });
  items.push({ type: 'exit', stream: 0xffffffff, timeNs: MAX, exitCode: 255, signal: 0, oomKill: 2, detail: '' });
  return items;
}

/**
 * Writes items so that the file order is the call order: a stream's block is closed before another stream
 * writes. Returns the capture's bytes.
 */
export function writeInFileOrder(items: readonly Item[], header: HeaderInput, options: { compressLevel?: number; blockSize?: number } = {}): Uint8Array {
  const w = new CaptureWriter({ header, ...options });
  let last: number | undefined;
  for (const it of items) {
    if (last !== undefined && it.stream !== last) w.flush(last);
    last = it.stream;
    writeItem(w, it);
  }
  return w.finish();
}

export interface RealisticOptions {
  readonly seed?: number;
  /** ALLOC + FREE records to write. */
  readonly events: number;
  readonly threads?: number;
  readonly native?: boolean;
  /** The header's options (default: OPTION_NATIVE with `native`, else 0). */
  readonly options?: number;
  /** Called with the output so far whenever it exceeds 4 MiB, and at the end. */
  readonly sink: (bytes: Uint8Array) => void;
  readonly compressLevel?: number;
  /** Payload bytes after which a stream's block is closed (default 32 KiB, as the agent). */
  readonly blockSize?: number;
  /** The format version to write (default: this memlens's, FORMAT_VERSION). */
  readonly version?: number;
}

export interface RealisticResult {
  readonly allocs: number;
  readonly frees: number;
  readonly records: number;
  readonly bytes: number;
  /** Bytes taken by ALLOC and FREE records alone (without block headers and other records). */
  readonly hotBytes: number;
}

const SIZE_CLASSES = [16, 24, 32, 48, 56, 64, 72, 80, 96, 112, 128, 160, 192, 256, 320, 384, 448, 512];
const CLASS_OF = Uint8Array.from({ length: 513 }, (_, size) =>
  Math.max(
    0,
    SIZE_CLASSES.findIndex((c) => c >= size),
  ),
);
const classOf = (size: number): number => CLASS_OF[size] ?? 0;

/**
 * A realistic stream. Threads take turns in runs of a few hundred events (the GIL hands over every 5 ms);
 * small objects come from per-size-class pools (consecutive slots, freed mostly soon and reused LIFO, as
 * pymalloc does), larger buffers from a malloc heap and big arrays from mmap; stacks come from a call tree
 * that each thread walks (same stack as the previous allocation about half the time).
 */
export function writeRealistic(o: RealisticOptions): RealisticResult {
  const rand = prng(o.seed ?? 1);
  const threads = o.threads ?? 4;
  const native = o.native ?? false;
  const w = new CaptureWriter({
    header: { ...TEST_HEADER, unknownFields: [], options: o.options ?? (native ? OPTION_NATIVE : 0), ...(o.version !== undefined ? { version: o.version } : {}) },
    ...(o.compressLevel !== undefined ? { compressLevel: o.compressLevel } : {}),
    ...(o.blockSize !== undefined ? { blockSize: o.blockSize } : {}),
  });
  let bytes = 0;
  const drain = (force: boolean): void => {
    if (force || w.pendingBytes >= 4 << 20) {
      const b = w.take();
      bytes += b.length;
      if (b.length > 0) o.sink(b);
    }
  };
  interface T {
    stream: number;
    stacks: number[];
    natives: number[];
    stack: number;
    nat: number;
    pools: number[][]; // free slots per size class (LIFO)
    poolNext: number[];
    live: { addr: number; size: number; dealloc: Deallocator }[];
    heapTop: number;
  }
  const ts: T[] = [];
  let codeIds = 0;
  for (let i = 0; i < threads; i++) {
    const stream = i + 1;
    w.meta({ type: 'thread', stream, osTid: 1000 + i, pythonIdent: 139000000000000 + i * 4096, name: i === 0 ? 'MainThread' : `worker-${i}`, timeNs: i * 1000 });
    ts.push({
      stream,
      stacks: [],
      natives: [],
      stack: 0,
      nat: 0,
      pools: SIZE_CLASSES.map(() => []),
      poolNext: SIZE_CLASSES.map((_, k) => 0x7f0000000000 + i * 0x10000000 + k * 0x100000),
      live: [],
      heapTop: 0x555555560000 + i * 0x1000000,
    });
  }
  let seq = 0;
  let allocs = 0;
  let frees = 0;
  let records = threads;
  let sinceBarrier = 0;
  let sinceSnapshot = 0;
  let rss = 50 << 20;
  const newStack = (t: T): void => {
    // Walk to a new stack: mostly a sibling or child of the current one, sometimes a known one.
    if (t.stacks.length > 0 && rand() < 0.7) {
      t.stack = t.stacks[Math.floor(rand() * Math.min(t.stacks.length, 64)) + Math.max(0, t.stacks.length - 64)] as number;
      if (native) t.nat = t.natives[Math.floor(rand() * t.natives.length)] ?? 0;
      return;
    }
    const parent = t.stacks.length > 0 && rand() < 0.8 ? t.stack : 0;
    let codeId = Math.floor(rand() * (codeIds + 1)) + 1;
    if (codeId > codeIds) {
      codeId = ++codeIds;
      w.meta({
        type: 'code',
        stream: t.stream,
        codeId,
        name: `f${codeId}`,
        qualname: `Mod.f${codeId}`,
        filename: `/srv/app/mod${codeId % 40}.py`,
        firstLineNo: codeId * 3,
        linetableKind: 3,
        linetable: new Uint8Array(20 + (codeId % 50)).fill(codeId & 0xff),
      });
      records++;
    }
    t.stack = w.frame(t.stream, parent, codeId, Math.floor(rand() * 400) * 2);
    t.stacks.push(t.stack);
    records++;
    if (native) {
      t.nat = w.nativeFrame(t.stream, t.natives.length > 0 ? (t.natives[t.natives.length - 1] as number) : 0, 0x7f1200000000 + Math.floor(rand() * 0x100000));
      t.natives.push(t.nat);
      records++;
    }
  };
  // Python code runs loops: a thread repeats "patterns" (the allocations one iteration of some loop
  // makes: the same sizes from the same stacks, temporaries freed soon) and now and then runs new code.
  interface Op {
    free: number; // > 0: free the free-th most recent live object instead of allocating
    kind: number; // 0 small object (pymalloc), 1 malloc buffer, 2 mmap
    size: number;
    stack: number;
    nat: number;
  }
  const patterns: Op[][][] = ts.map(() => []);
  const newPattern = (t: T, ti: number): Op[] => {
    const ops: Op[] = [];
    const len = 3 + Math.floor(rand() * 20);
    let live = 0;
    for (let k = 0; k < len; k++) {
      if (live > 0 && rand() < 0.45) {
        ops.push({ free: 1 + Math.floor(rand() * Math.min(live, 3)), kind: 0, size: 0, stack: 0, nat: 0 });
        live--;
        continue;
      }
      if (rand() < 0.5) newStack(t);
      const kr = rand();
      const kind = kr < 0.85 ? 0 : kr < 0.997 ? 1 : 2;
      const size =
        kind === 0
          ? (SIZE_CLASSES[Math.min(SIZE_CLASSES.length - 1, Math.floor(-Math.log(1 - rand() * 0.999) * 3))] as number) - Math.floor(rand() * 8)
          : kind === 1
            ? 513 + Math.floor(rand() * rand() * 60000)
            : (1 + Math.floor(rand() * 256)) * 4096 * 16;
      ops.push({ free: 0, kind, size, stack: t.stack, nat: t.nat });
      live++;
    }
    (patterns[ti] as Op[][]).push(ops);
    return ops;
  };
  const doFree = (t: T, idx: number): void => {
    const obj = t.live[idx] as { addr: number; size: number; dealloc: Deallocator };
    // Recent objects keep their order (small splices at the end); old ones are swapped out.
    if (idx >= t.live.length - 8) t.live.splice(idx, 1);
    else {
      t.live[idx] = t.live[t.live.length - 1] as { addr: number; size: number; dealloc: Deallocator };
      t.live.pop();
    }
    seq++;
    w.free(t.stream, seq, obj.addr, obj.dealloc === Deallocator.Munmap ? obj.size : 0, obj.dealloc);
    frees++;
    if (obj.dealloc === Deallocator.PymallocFree) t.pools[classOf(obj.size)]?.push(obj.addr);
  };
  const tick = (t: T): void => {
    sinceBarrier++;
    sinceSnapshot++;
    if (sinceSnapshot >= 20000) {
      sinceSnapshot = 0;
      rss += Math.floor((rand() - 0.45) * (1 << 20));
      w.meta({
        type: 'snapshot',
        stream: 0,
        seq: seq + 1,
        timeNs: seq * 100,
        rss,
        rssAnon: rss - (20 << 20),
        rssFile: 20 << 20,
        rssShmem: 0,
        swap: undefined,
        heap: undefined,
        cgroupUsage: rss + (5 << 20),
        cgroupLimit: 2 * 1024 ** 3,
      });
      records++;
      if (rand() < 0.3) {
        w.meta({
          type: 'gc',
          stream: t.stream,
          seq: seq + 1,
          timeNs: seq * 100,
          generation: Math.floor(rand() * 3),
          collected: Math.floor(rand() * 100),
          uncollectable: 0,
          durationNs: 20000,
          startSeq: seq,
        });
        records++;
      }
    }
    if (sinceBarrier >= 100000) {
      sinceBarrier = 0;
      w.barrier(seq + 1);
      records++;
    }
  };
  while (allocs + frees < o.events) {
    const ti = rand() < 0.6 ? 0 : Math.floor(rand() * threads);
    const t = ts[ti] as T;
    const mine = patterns[ti] as Op[][];
    // A turn of this thread (the GIL hands over every 5 ms): a few loops of a few patterns.
    const turns = 1 + Math.floor(rand() * 6);
    for (let turn = 0; turn < turns && allocs + frees < o.events; turn++) {
      const pattern = mine.length === 0 || rand() < 0.03 ? newPattern(t, ti) : (mine[Math.floor(mine.length * rand() * rand())] as Op[]);
      const iterations = 1 + Math.floor(rand() * 40);
      for (let it = 0; it < iterations && allocs + frees < o.events; it++) {
        for (const op of pattern) {
          if (allocs + frees >= o.events) break;
          if (op.free > 0) {
            if (t.live.length >= op.free) doFree(t, t.live.length - op.free);
          } else {
            let addr: number;
            let allocator: number;
            let dealloc: Deallocator;
            if (op.kind === 0) {
              const cls = classOf(op.size);
              const csize = SIZE_CLASSES[cls] as number;
              const pool = t.pools[cls] as number[];
              addr = pool.length > 0 ? (pool.pop() as number) : (t.poolNext[cls] = (t.poolNext[cls] as number) + csize) - csize;
              allocator = Allocator.PymallocMalloc;
              dealloc = Deallocator.PymallocFree;
            } else if (op.kind === 1) {
              t.heapTop += (op.size + 15) & ~15;
              addr = t.heapTop;
              allocator = Allocator.Malloc;
              dealloc = Deallocator.Free;
            } else {
              addr = 0x7e0000000000 + Math.floor(rand() * 0x1000000) * 4096;
              allocator = Allocator.Mmap;
              dealloc = Deallocator.Munmap;
            }
            seq++;
            w.alloc(t.stream, seq, addr, op.size, allocator, op.stack, native ? op.nat : 0);
            t.live.push({ addr, size: op.size, dealloc });
            allocs++;
          }
          tick(t);
        }
      }
      // Objects that outlive their loop: some are freed later, from anywhere in the live set.
      while (t.live.length > 2000 && allocs + frees < o.events) {
        doFree(t, Math.floor(rand() * t.live.length));
        tick(t);
      }
    }
    drain(false);
  }
  w.barrier(seq + 1);
  w.meta({ type: 'trailer', stream: 0, seq: seq + 1, timeNs: seq * 100, reason: 1, allocations: allocs, frees, bytesAllocated: 0, droppedEvents: 0, agentMemoryBytes: 1 << 20 });
  records += 2;
  w.flushAll();
  drain(true);
  return { allocs, frees, records: records + allocs + frees, bytes, hotBytes: w.hotBytes };
}
