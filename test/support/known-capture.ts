// A small capture of a known "program", written with the real encoder, whose every figure is known by
// hand. Used by the report golden tests and the CLI tests.
//
//   runpy._run_module_as_main → <module> (app.py:30) → load (app.py:12) → parse (app.py:5)   malloc
//   <module> (app.py:31) → cache (app.py:20)                                                 malloc
//   <module> (app.py:1) → _find_and_load (<frozen importlib._bootstrap>)                     malloc
//   worker thread: work (worker.py:3)                                                         mmap
//
// Timeline (seq):        heap after
//   1  parse   4 MiB      4 MiB
//   2  parse   4 MiB      8 MiB
//   3  cache   1 MiB      9 MiB
//   4  import  64 KiB     9 MiB + 64 KiB
//   5  worker mmap 2 MiB  11 MiB + 64 KiB   ← the peak
//   6  free parse #1      7 MiB + 64 KiB
//   7  munmap half of the worker's mapping: 6 MiB + 64 KiB
//   8  free parse #2      2 MiB + 64 KiB
//   9  parse 100 B, 10 free it (a temporary allocation)
//  At the end: cache 1 MiB, import 64 KiB, worker 1 MiB live.

import { CaptureWriter } from '../../src/capture/encoder.js';
import type { HeaderInput } from '../../src/capture/header.js';
import type { MetaRecord } from '../../src/capture/records.js';

export const MiB = 1024 * 1024;

export const KNOWN_HEADER: HeaderInput = {
  writerName: 'memlens',
  writerVersion: 'test',
  pid: 4242,
  ppid: 1,
  hostname: 'test',
  argv: ['python3', 'app.py'],
  startWallNs: 1732694400000000000n,
  pythonVersion: '3.11.7',
  pythonHexversion: 0x30b07f0,
  pythonImplementation: 'cpython',
  pythonAllocator: 'malloc',
  options: 0,
  platform: 'linux-x86_64',
  pageSize: 4096,
  memoryIntervalMs: 10,
  mainTid: 100,
  executable: '/usr/bin/python3',
  cwd: '/srv/app',
  stdlibDirs: ['/usr/lib/python3.11'],
  sitePackages: ['/usr/lib/python3.11/site-packages'],
  sysPath: ['/srv/app', '/usr/lib/python3.11', '/usr/lib/python3.11/site-packages'],
  mode: 1,
  script: 'app.py',
};

function code(codeId: number, name: string, filename: string, firstLineNo: number): MetaRecord {
  return { type: 'code', stream: 1, codeId, name, qualname: name, filename, firstLineNo, linetableKind: 3, linetable: new Uint8Array(0) };
}

function snapshot(seq: number, timeNs: number, rss: number): MetaRecord {
  return {
    type: 'snapshot',
    stream: 0,
    seq,
    timeNs,
    rss,
    rssAnon: rss - 8 * MiB,
    rssFile: 8 * MiB,
    rssShmem: 0,
    swap: undefined,
    heap: undefined,
    cgroupUsage: undefined,
    cgroupLimit: undefined,
  };
}

export interface KnownCaptureOptions {
  /** Scale every allocation of `parse` (a second run of the program that uses more memory). */
  readonly parseScale?: number;
  readonly argv?: readonly string[];
}

/**
 * The capture's bytes. Line numbers come from firstLineNo (the instruction offset is 0 everywhere), so the
 * capture reads the same with or without a line-table decoder.
 */
export function knownCapture(options: KnownCaptureOptions = {}): Uint8Array {
  const scale = options.parseScale ?? 1;
  const w = new CaptureWriter({ header: { ...KNOWN_HEADER, ...(options.argv !== undefined ? { argv: [...options.argv], script: options.argv[1] ?? '' } : {}) } });
  w.meta({ type: 'thread', stream: 1, osTid: 100, pythonIdent: 1, name: 'MainThread', timeNs: 0 });
  w.meta(code(1, '_run_module_as_main', '/usr/lib/python3.11/runpy.py', 198));
  w.meta(code(2, '<module>', '/srv/app/app.py', 30));
  w.meta(code(3, 'load', '/srv/app/app.py', 12));
  w.meta(code(4, 'parse', '/srv/app/app.py', 5));
  w.meta(code(5, 'cache', '/srv/app/app.py', 20));
  w.meta(code(6, '_find_and_load', '<frozen importlib._bootstrap>', 1165));
  w.meta(code(8, '<module>', '/srv/app/app.py', 31));
  w.meta(code(9, '<module>', '/srv/app/app.py', 1));
  const runpy = w.frame(1, 0, 1, 0);
  const mod30 = w.frame(1, runpy, 2, 0);
  const load = w.frame(1, mod30, 3, 0);
  const parse = w.frame(1, load, 4, 0);
  const mod31 = w.frame(1, runpy, 8, 0);
  const cache = w.frame(1, mod31, 5, 0);
  const mod1 = w.frame(1, runpy, 9, 0);
  const imp = w.frame(1, mod1, 6, 0);
  w.meta(snapshot(1, 5_000_000, 20 * MiB));
  w.alloc(1, 1, 0x100000, 4 * MiB * scale, 0, parse, 0);
  w.alloc(1, 2, 0x600000, 4 * MiB * scale, 0, parse, 0);
  w.alloc(1, 3, 0xb00000, MiB, 1, cache, 0);
  w.alloc(1, 4, 0xc00000, 64 * 1024, 0, imp, 0);
  w.flush(1);
  // The worker thread, and a snapshot between its events.
  w.meta({ type: 'thread', stream: 2, osTid: 101, pythonIdent: 2, name: 'worker', timeNs: 10_000_000 });
  w.meta({ type: 'code', stream: 2, codeId: 7, name: 'work', qualname: 'work', filename: '/srv/app/worker.py', firstLineNo: 3, linetableKind: 3, linetable: new Uint8Array(0) });
  const work = w.frame(2, 0, 7, 0);
  w.meta(snapshot(5, 20_000_000, 40 * MiB));
  w.alloc(2, 5, 0x7f0000000000, 2 * MiB, 8, work, 0);
  w.flush(2);
  w.meta(snapshot(6, 30_000_000, 42 * MiB));
  w.free(1, 6, 0x100000, 0, 0);
  w.flush(1);
  w.free(2, 7, 0x7f0000100000, MiB, 1);
  w.flush(2);
  w.free(1, 8, 0x600000, 0, 0);
  w.alloc(1, 9, 0x200000, 100, 0, parse, 0);
  w.free(1, 10, 0x200000, 0, 0);
  w.flush(1);
  w.meta(snapshot(11, 40_000_000, 30 * MiB));
  w.meta({ type: 'trailer', stream: 0, seq: 11, timeNs: 45_000_000, reason: 1, allocations: 6, frees: 4, bytesAllocated: 0, droppedEvents: 0, agentMemoryBytes: 0 });
  return w.finish();
}
