// Captures of small scripted "programs", written with the real encoder, for the verdict and findings
// tests: stacks by function names, allocations and frees with a running seq, snapshots at chosen times
// (each followed by a flush round and a barrier, as the agent does), GC records, threads, forks, markers,
// the EXIT record. `analyze` reads one back through the decoder, the seq orderer and the replay with the
// forensic observer, as `memlens verdict` does.

import { Allocator, Deallocator, OPTION_AGGREGATE } from '../../src/capture/format.js';
import { decodeCapture } from '../../src/capture/decoder.js';
import { CaptureWriter } from '../../src/capture/encoder.js';
import type { HeaderInput } from '../../src/capture/header.js';
import type { CheckpointEntry } from '../../src/capture/records.js';
import { SeqOrderer } from '../../src/capture/order.js';
import { type ForensicFacts, ForensicsObserver } from '../../src/analysis/forensics.js';
import { type Verdict, verdict } from '../../src/analysis/verdict.js';
import { ModelBuilder } from '../../src/model/builder.js';
import { lineTableResolver } from '../../src/model/lines.js';
import type { CaptureModel } from '../../src/model/model.js';

export const MiB = 1024 * 1024;
export const SEC = 1_000_000_000;

export const PROGRAM_HEADER: HeaderInput = {
  writerName: 'memlens',
  writerVersion: 'test',
  pid: 4242,
  ppid: 1,
  hostname: 'test',
  argv: ['python3', 'job.py'],
  startWallNs: 1732694400000000000n,
  pythonVersion: '3.12.1',
  pythonHexversion: 0x30c01f0,
  pythonImplementation: 'cpython',
  pythonAllocator: 'pymalloc',
  options: 0,
  platform: 'linux-x86_64',
  pageSize: 4096,
  memoryIntervalMs: 10,
  mainTid: 100,
  executable: '/usr/bin/python3',
  cwd: '/srv/job',
  stdlibDirs: ['/usr/lib/python3.12'],
  sitePackages: ['/usr/lib/python3.12/site-packages'],
  sysPath: ['/srv/job', '/usr/lib/python3.12', '/usr/lib/python3.12/site-packages'],
  mode: 1,
  script: 'job.py',
};

/**
 * Every code object starts at line 1 with a CPython 3.9 line table (co_lnotab) that gives instruction
 * 2k line 1 + k: a frame at line L is the instruction 2(L - 1), so one function can be at several lines.
 */
const MAX_LINE = 1024;
const LNOTAB = new Uint8Array(2 * MAX_LINE).map((_, i) => (i % 2 === 0 ? 2 : 1));

/** A frame of a stack: function name and line, in /srv/job/job.py unless a file is given. */
export type FrameSpec = readonly [name: string, line: number, file?: string];

export interface SnapshotSpec {
  readonly rss?: number;
  readonly anon?: number;
  readonly file?: number;
  readonly shmem?: number;
  readonly swap?: number;
  readonly cgroupUsage?: number;
  readonly cgroupLimit?: number;
  /** Aggregated captures: the agent's heap. */
  readonly heap?: number;
  /** memlens's own time on the program's threads (SNAPSHOT flag 8). */
  readonly ownNs?: number;
}

export class ProgramCapture {
  readonly w: CaptureWriter;
  seq = 0;
  private nextCode = 1;
  private readonly codes = new Map<string, number>();
  private readonly nodes = new Map<string, number>();
  private nextAddr = 0x10000000;
  private readonly sizes = new Map<number, number>();

  constructor(header: HeaderInput = {}) {
    this.w = new CaptureWriter({ header: { ...PROGRAM_HEADER, ...header } });
  }

  /** The stack node of `frames` (outermost first) in `stream`, defining codes and frames as needed. */
  stack(stream: number, frames: readonly FrameSpec[]): number {
    let node = 0;
    let path = `${stream}`;
    for (const [name, line, file] of frames) {
      const f = file ?? '/srv/job/job.py';
      const ckey = `${name}\u0000${f}`;
      let code = this.codes.get(ckey);
      if (code === undefined) {
        code = this.nextCode++;
        this.codes.set(ckey, code);
        this.w.meta({ type: 'code', stream, codeId: code, name: name.slice(name.lastIndexOf('.') + 1), qualname: name, filename: f, firstLineNo: 1, linetableKind: 1, linetable: LNOTAB });
      }
      if (line < 1 || line > MAX_LINE) throw new RangeError(`line ${line} is outside 1–${MAX_LINE}`);
      const instr = 2 * (line - 1);
      path += `/${code}:${instr}`;
      let n = this.nodes.get(path);
      if (n === undefined) {
        n = this.w.frame(stream, node, code, instr);
        this.nodes.set(path, n);
      }
      node = n;
    }
    return node;
  }

  thread(stream: number, osTid: number, name: string, timeNs: number): void {
    this.w.meta({ type: 'thread', stream, osTid, pythonIdent: osTid, name, timeNs });
  }

  threadExit(stream: number, timeNs: number): void {
    this.w.meta({ type: 'thread-exit', stream, timeNs });
  }

  alloc(stream: number, frames: readonly FrameSpec[] | number, size: number, allocator: number = Allocator.Malloc): number {
    const node = typeof frames === 'number' ? frames : this.stack(stream, frames);
    const address = this.nextAddr;
    this.nextAddr += Math.ceil((size + 1) / 4096) * 4096;
    this.w.alloc(stream, ++this.seq, address, size, allocator, node, 0);
    this.sizes.set(address, size);
    return address;
  }

  free(stream: number, address: number): void {
    this.w.free(stream, ++this.seq, address, 0, Deallocator.Free);
    this.sizes.delete(address);
  }

  /** realloc: FREE(old) then ALLOC(new, realloc) at a new address. */
  realloc(stream: number, frames: readonly FrameSpec[] | number, old: number, size: number): number {
    this.free(stream, old);
    return this.alloc(stream, frames, size, Allocator.Realloc);
  }

  /** A memory snapshot after every event so far, then a flush round. */
  snapshot(timeNs: number, s: SnapshotSpec = {}): void {
    const rss = s.rss ?? 64 * MiB;
    this.w.meta({
      type: 'snapshot',
      stream: 0,
      seq: this.seq + 1,
      timeNs,
      rss,
      rssAnon: s.anon ?? rss - (s.file ?? 8 * MiB) - (s.shmem ?? 0),
      rssFile: s.file ?? 8 * MiB,
      rssShmem: s.shmem ?? 0,
      swap: s.swap,
      heap: s.heap,
      cgroupUsage: s.cgroupUsage,
      cgroupLimit: s.cgroupLimit,
      ...(s.ownNs !== undefined ? { ownNs: s.ownNs } : {}),
    });
    this.w.barrier(this.seq + 1);
  }

  /** A collection on `stream` that started at `startSeq` (before the frees it made) and ends now. */
  gc(stream: number, timeNs: number, generation: number, collected: number, durationNs: number, startSeq: number | undefined): void {
    this.w.meta({ type: 'gc', stream, seq: this.seq + 1, timeNs, generation, collected, uncollectable: 0, durationNs, startSeq });
  }

  gcState(timeNs: number, enabled: boolean, frozenObjects = 0): void {
    this.w.meta({ type: 'gc-state', stream: 0, timeNs, enabled, frozenObjects, thresholds: [700, 10, 10] });
  }

  marker(kind: number, label: string, timeNs: number): void {
    this.w.meta({ type: 'marker', stream: 0, seq: this.seq + 1, timeNs, kind, label });
  }

  /** A PRESSURE record: "some" avg10 in hundredths of a percent, "full" avg10 too (undefined: no full line). */
  pressure(timeNs: number, someAvg10: number, fullAvg10: number | undefined, source = '/proc/pressure/memory'): void {
    const full = fullAvg10 === undefined ? undefined : 0;
    this.w.meta({ type: 'pressure', stream: 0, seq: this.seq + 1, timeNs, source, someAvg10, someAvg60: 0, someAvg300: 0, someTotalUs: 0, fullAvg10, fullAvg60: full, fullAvg300: full, fullTotalUs: full });
  }

  fork(stream: number, timeNs: number, childPid: number): void {
    this.w.meta({ type: 'fork', stream, seq: this.seq + 1, timeNs, childPid });
  }

  /** A census of live objects (agent/python/memlens_census.py's JSON) taken at `timeNs`. */
  census(timeNs: number, label: string, json: string): void {
    this.w.meta({ type: 'census', stream: 0, seq: this.seq + 1, timeNs, label, json });
  }

  checkpoint(timeNs: number, heap: number, peakHeap: number, entries: readonly CheckpointEntry[]): void {
    this.w.meta({ type: 'checkpoint', stream: 0, seq: this.seq + 1, timeNs, heap, peakHeap, peakSeq: 1, entries });
  }

  /** `reason`: a TRAILER_REASONS index (default 6, `exit`: the interpreter exited). */
  trailer(timeNs: number, reason = 6): void {
    this.w.meta({ type: 'trailer', stream: 0, seq: this.seq + 1, timeNs, reason, allocations: 0, frees: 0, bytesAllocated: 0, droppedEvents: 0, agentMemoryBytes: 0 });
  }

  exit(e: { timeNs: number; exitCode?: number; signal?: number; oomKill?: number; detail?: string }): void {
    this.w.flushAll();
    this.w.meta({ type: 'exit', stream: 0xffffffff, timeNs: e.timeNs, exitCode: e.exitCode ?? 0, signal: e.signal ?? 0, oomKill: e.oomKill ?? 0, detail: e.detail ?? '' });
  }

  finish(): Uint8Array {
    return this.w.finish();
  }
}

const ms = 1_000_000;

/**
 * A batch job under a 256 MiB limit, 6 s long: `load_config` makes 32 MiB it keeps (kept after it
 * returned), `ingest` grows a list by realloc and keeps 3 MiB records until the OOM kill, cycles of 8 MiB
 * are freed by a collection, four worker threads, a near-OOM marker and the census taken then, the kernel's
 * line.
 */
export function oomJobCapture(): Uint8Array {
  const p = new ProgramCapture({ argv: ['python3', 'job.py', '--all'], script: 'job.py' });
  const MOD: FrameSpec = ['<module>', 40];
  const config: FrameSpec[] = [MOD, ['main', 30], ['load_config', 12]];
  const ingest: FrameSpec[] = [MOD, ['main', 33], ['ingest', 21]];
  const grow: FrameSpec[] = [MOD, ['main', 33], ['ingest', 22]];
  const node: FrameSpec[] = [MOD, ['main', 33], ['ingest', 23], ['Node.__init__', 5]];
  p.thread(1, 100, 'MainThread', 0);
  p.gcState(0, true);
  for (let w = 0; w < 4; w++) p.thread(2 + w, 200 + w, `worker-${w}`, 50 * ms + w);
  let list = 0;
  for (let t = 0; t <= 60; t++) {
    const now = t * 100 * ms;
    if (t === 1) for (let i = 0; i < 4; i++) p.alloc(1, config, 8 * MiB);
    if (t >= 2) {
      p.alloc(1, ingest, 3 * MiB);
      list = list === 0 ? p.alloc(1, grow, 4096) : p.realloc(1, grow, list, 4096 + t * 40 * 1024);
    }
    if (t === 30) {
      const bufs = [1, 2, 3, 4].map(() => p.alloc(1, node, 2 * MiB));
      const start = p.seq + 1;
      for (const b of bufs) p.free(1, b);
      p.gc(1, now + 5 * ms, 2, 120, 3 * ms, start);
    }
    for (let w = 0; w < 4; w++)
      p.free(
        2 + w,
        p.alloc(
          2 + w,
          [
            ['Thread.run', 990, '/usr/lib/python3.12/threading.py'],
            ['work', 8],
          ],
          64 * 1024,
        ),
      );
    const heapish = 40 * MiB + Math.max(0, t - 1) * 3 * MiB;
    p.snapshot(now, { rss: heapish + 30 * MiB, file: 10 * MiB, cgroupUsage: heapish + 34 * MiB, cgroupLimit: 256 * MiB, swap: 0 });
    if (t === 56) {
      p.marker(4, 'cgroup memory usage 236 MiB of limit 256 MiB', now + 2 * ms);
      // The agent's census at near-OOM: the 3 MiB records ingest keeps are bytearrays.
      const types = [
        { type: 'bytearray', count: 55, bytes: 55 * (3 * MiB + 57) },
        { type: 'str', count: 21_000, bytes: 1_900_000 },
        { type: 'dict', count: 2_100, bytes: 640_000 },
      ];
      const total = types.reduce((a, x) => a + x.bytes, 0);
      // Its reference-path search grouped the bytearrays by the path that keeps them (the records list).
      const path_groups = [
        { pattern: "module __main__['RECORDS'][*].data", type: 'bytearray', count: 54, bytes: 54 * (3 * MiB + 57), example: "module __main__['RECORDS'][53].data" },
        { pattern: "module __main__['CONFIG']", type: 'bytearray', count: 1, bytes: 3 * MiB + 57, example: "module __main__['CONFIG']" },
        { pattern: "module __main__['RECORDS'][*].name", type: 'str', count: 54, bytes: 3_300, example: "module __main__['RECORDS'][0].name" },
      ];
      const path_search = { types: ['bytearray', 'dict', 'str'], visited: 23_155, depth: 4, partial: false, bound: null, pause_ms: 20.5 };
      const census = {
        kind: 'census',
        time: 1732694405.6,
        pause_ms: 41.5,
        partial: false,
        tracked_objects: 9000,
        untracked_objects: 14155,
        total_count: 23155,
        total_bytes: total,
        types,
        type_count: 3,
        largest_objects: [],
        path_groups,
        path_search,
      };
      // The census disabled the collector while it ran, as agents before 2026-12 recorded it: memlens's pause,
      // never the program's gc.disable().
      p.gcState(now + 2.4 * ms, false);
      p.gcState(now + 2.9 * ms, true);
      p.census(now + 3 * ms, 'near-oom', JSON.stringify(census));
    }
  }
  p.exit({ timeNs: 6 * SEC + 45 * ms, signal: 9, oomKill: 1, detail: 'Memory cgroup out of memory: Killed process 4242 (python3) total-vm:301232kB, anon-rss:254012kB' });
  return p.finish();
}

export const AGGREGATED_HEADER: HeaderInput = { options: OPTION_AGGREGATE };

/** A CHECKPOINT entry of thread 1's malloc at `stack`: `live` bytes in `count` allocations, all still live. */
export function checkpointEntry(stack: number, live: number, count: number): CheckpointEntry {
  return {
    stream: 1,
    stack,
    nativeStack: 0,
    allocator: Allocator.Malloc,
    totalCount: count,
    totalBytes: live,
    liveCount: count,
    liveBytes: live,
    savedPeakCount: 0,
    savedPeakBytes: 0,
    updatedSeq: 1,
  };
}

export interface Analysis {
  readonly model: CaptureModel;
  readonly facts: ForensicFacts;
  readonly verdict: Verdict;
}

/** Reads a capture as `memlens verdict` does (decoder → seq orderer → replay with the forensic observer). */
export function analyze(bytes: Uint8Array, lastNs?: number): Analysis {
  const observer = new ForensicsObserver({ lastNs });
  const builder = new ModelBuilder({ observer, lineResolver: lineTableResolver() });
  const orderer = new SeqOrderer(builder);
  decodeCapture(bytes, orderer);
  orderer.end();
  const model = builder.finish();
  const facts = observer.finish();
  return { model, facts, verdict: verdict(model, facts) };
}
