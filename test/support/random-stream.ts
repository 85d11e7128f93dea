// Random capture streams for property tests: what a decoder would hand a CaptureVisitor, in seq order,
// with the awkward cases on purpose: reused addresses, frees of unknown addresses, missed frees, partial
// munmap (heads, tails, holes, several mappings at once), MAP_FIXED over a mapping, PyTraceMalloc_Track
// of malloc'ed buffers, CODE records after the FRAMEs that use them, stack resets, snapshots.

import type { CaptureHeader, CaptureVisitor, MetaRecord } from '../../src/capture/records.js';
import { prng } from './prng.js';

export type StreamCall =
  | { readonly kind: 'alloc'; readonly stream: number; readonly seq: number; readonly address: number; readonly size: number; readonly allocator: number; readonly stack: number; readonly native: number }
  | { readonly kind: 'free'; readonly stream: number; readonly seq: number; readonly address: number; readonly size: number; readonly deallocator: number }
  | { readonly kind: 'meta'; readonly record: MetaRecord };

export interface RandomStream {
  readonly header: CaptureHeader;
  readonly calls: readonly StreamCall[];
  /** Per stream, the (codeId, instr) chain of each local node id at the time of each call index. */
  readonly lastSeq: number;
}

export function testHeader(overrides: Partial<CaptureHeader> = {}): CaptureHeader {
  return {
    version: 1,
    minReaderVersion: 1,
    writerName: 'memlens',
    writerVersion: 'test',
    pid: 4242,
    ppid: 1,
    hostname: 'test',
    argv: ['python3', 'app.py'],
    startWallNs: 0n,
    startMonoNs: 0n,
    pythonVersion: '3.11.7',
    pythonHexversion: 0x30b07f0,
    pythonImplementation: 'cpython',
    pythonAllocator: 'malloc',
    options: 0,
    sampleRateBytes: 0,
    sampleExactBytes: 0,
    platform: 'linux-x86_64',
    pageSize: 4096,
    cgroupLimitBytes: undefined,
    memoryIntervalMs: 10,
    mainTid: 100,
    executable: '/usr/bin/python3',
    cwd: '/srv/app',
    stdlibDirs: ['/usr/lib/python3.11'],
    sitePackages: ['/usr/lib/python3.11/site-packages'],
    sysPath: ['/srv/app', '/usr/lib/python3.11', '/usr/lib/python3.11/site-packages'],
    mode: 1,
    cgroupPath: '',
    script: 'app.py',
    unknownFields: [],
    ...overrides,
  };
}

export interface RandomStreamOptions {
  readonly events: number;
  readonly streams?: number;
  readonly codes?: number;
  /** Fraction of events that are mmap/munmap. */
  readonly mmapShare?: number;
}

const PAGE = 4096;

export function randomStream(seed: number, options: RandomStreamOptions): RandomStream {
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const calls: StreamCall[] = [];
  const nStreams = options.streams ?? 3;
  const nCodes = options.codes ?? 6;
  const mmapShare = options.mmapShare ?? 0.1;
  const meta = (record: MetaRecord): void => {
    calls.push({ kind: 'meta', record });
  };
  const pendingCodes: number[] = [];
  for (let c = 1; c <= nCodes; c++) pendingCodes.push(c);
  const emitCode = (c: number): void =>
    meta({
      type: 'code',
      stream: 0,
      codeId: c,
      name: `f${c}`,
      qualname: `f${c}`,
      filename: `/srv/app/mod${c % 3}.py`,
      firstLineNo: 10 * c,
      linetableKind: 3,
      linetable: new Uint8Array(0),
    });
  // Half the codes are defined up front, the rest at random later (after FRAMEs that use them).
  for (let c = 1; c <= nCodes; c += 2) emitCode(c);
  const late = pendingCodes.filter((c) => c % 2 === 0);

  const nodesPerStream: number[] = [];
  for (let s = 1; s <= nStreams; s++) {
    nodesPerStream[s] = 0;
    meta({ type: 'thread', stream: s, osTid: 100 + s, pythonIdent: 1000 + s, name: s === 1 ? 'MainThread' : `worker-${s}`, timeNs: s * 1000 });
  }
  const newNode = (s: number): number => {
    const n = nodesPerStream[s] as number;
    const parent = n === 0 || rnd() < 0.2 ? 0 : 1 + int(n);
    const id = n + 1;
    nodesPerStream[s] = id;
    meta({ type: 'frame', stream: s, id, parent, codeId: 1 + int(nCodes), instr: 2 * int(5) });
    return id;
  };
  for (let s = 1; s <= nStreams; s++) for (let k = 0; k < 3; k++) newNode(s);

  // Addresses: a small pool so that reuse, missed frees and unknown frees all happen.
  const heapPool = Array.from({ length: 40 }, (_, i) => 0x10000 + i * 64);
  const mmapBase = 0x7f0000000000;
  const liveHeap = new Set<number>();
  let seq = 0;
  let time = 10_000;
  for (let e = 0; e < options.events; e++) {
    const s = 1 + int(nStreams);
    if (rnd() < 0.05) newNode(s);
    if (late.length > 0 && rnd() < 0.02) emitCode(late.shift() as number);
    if (rnd() < 0.01) {
      meta({ type: 'stack-reset', stream: s });
      nodesPerStream[s] = 0;
      newNode(s);
    }
    if (rnd() < 0.03) {
      time += 1000 + int(5000);
      // A snapshot: seq is the next event's (events below it happened before).
      meta({
        type: 'snapshot',
        stream: 0,
        seq: seq + 1,
        timeNs: time,
        rss: 1e6 + int(1e6),
        rssAnon: 5e5,
        rssFile: 4e5,
        rssShmem: 0,
        swap: undefined,
        heap: undefined,
        cgroupUsage: undefined,
        cgroupLimit: undefined,
      });
    }
    const stack = (nodesPerStream[s] as number) === 0 || rnd() < 0.05 ? 0 : 1 + int(nodesPerStream[s] as number);
    const r = rnd();
    seq++;
    if (r < mmapShare / 2) {
      const address = mmapBase + int(64) * PAGE;
      const size = (1 + int(8)) * PAGE;
      calls.push({ kind: 'alloc', stream: s, seq, address, size, allocator: rnd() < 0.8 ? 8 : 14, stack, native: 0 });
    } else if (r < mmapShare) {
      const address = mmapBase + int(64) * PAGE;
      const size = (1 + int(10)) * PAGE;
      calls.push({ kind: 'free', stream: s, seq, address, size, deallocator: 1 });
    } else if (r < mmapShare + 0.06) {
      // PyTraceMalloc_Track: of a malloc'ed buffer (duplicate) or of memory malloc did not show.
      const live = [...liveHeap];
      const address = live.length > 0 && rnd() < 0.6 ? (live[int(live.length)] as number) : 0x900000 + int(8) * 64;
      calls.push({ kind: 'alloc', stream: s, seq, address, size: 1 + int(5000), allocator: 12, stack, native: 0 });
    } else if (r < mmapShare + 0.1) {
      const address = rnd() < 0.5 && liveHeap.size > 0 ? ([...liveHeap][int(liveHeap.size)] as number) : 0x900000 + int(8) * 64;
      calls.push({ kind: 'free', stream: s, seq, address, size: 0, deallocator: 3 });
    } else if (r < mmapShare + 0.55) {
      const address = heapPool[int(heapPool.length)] as number;
      const allocator = [0, 1, 2, 9, 10, 11, 3][int(7)] as number;
      const size = rnd() < 0.05 ? 0 : rnd() < 0.1 ? 100_000 + int(1_000_000) : 1 + int(2000);
      calls.push({ kind: 'alloc', stream: s, seq, address, size, allocator, stack, native: 0 });
      liveHeap.add(address);
    } else {
      // Usually a live address; sometimes one never allocated (before tracking).
      const live = [...liveHeap];
      const address = live.length > 0 && rnd() < 0.85 ? (live[int(live.length)] as number) : 0x20000 + int(1000) * 8;
      liveHeap.delete(address);
      calls.push({ kind: 'free', stream: s, seq, address, size: 0, deallocator: rnd() < 0.5 ? 0 : 2 });
    }
  }
  for (const c of late) emitCode(c);
  return { header: testHeader(), calls, lastSeq: seq };
}

export function replay(stream: { readonly header: CaptureHeader; readonly calls: readonly StreamCall[] }, visitor: CaptureVisitor): void {
  visitor.header?.(stream.header);
  for (const c of stream.calls) {
    if (c.kind === 'alloc') visitor.alloc(c.stream, c.seq, c.address, c.size, c.allocator, c.stack, c.native);
    else if (c.kind === 'free') visitor.free(c.stream, c.seq, c.address, c.size, c.deallocator);
    else visitor.meta(c.record);
  }
}
