// The reports' process runs with glibc's mmap threshold fixed at 1 MiB (docs/mmap-threshold.md): every
// large ArrayBuffer (the model's columns, the site table, the resolver's indexes) is then a mapping of its
// own, returned to the system when it is freed, where glibc's own threshold, raised by each large buffer
// freed, put them in the brk heap: zeroed by memset on reuse, and left as holes that stay resident. 60-70 MB
// less peak on call_sites' summary, verdict and flame graph (docs/benchmarks.md).
//
// The threshold is set by a tiny library (native/mmap_threshold.c, built beside the agent by
// scripts/build-agent.mjs) that calls mallopt when node loads it as an addon. Not through the environment:
// MALLOC_MMAP_THRESHOLD_ would reach every program memlens starts (and so change the target's malloc, which
// is what memlens measures), and bin/memlens.js's first line has no room for it. mallopt changes this
// process alone: a program started from it starts with glibc's defaults.
//
// Loading it also unmaps the pages of node's executable and libraries that node's start touched and the
// report may not need (native/mmap_threshold.c, docs/mmap-threshold.md "node's file pages"): what the report
// runs maps back in from the page cache; numpy_mix `stats` peaked 15.6 MiB lower (round thirty, report-speed).
//
// Best effort: no library (a failed build, a system without glibc, a platform without a C compiler) or any
// error of dlopen leaves the report as it was, with glibc's own threshold. Loaded from the package's own
// directory only (PACKAGE_ROOT), never from a path the environment or the working directory could name.

import { join } from 'node:path';
import { PACKAGE_ROOT } from './package-root.js';

/** The library, beside the agent. */
export const MMAP_LIBRARY: string = join(PACKAGE_ROOT, 'agent', 'build', 'libmemlens_mmap.so');

let tried = false;

/** Loads the library once (the report commands only: `memlens run`, `attach` and live keep glibc's defaults). */
export function useReportMalloc(library: string = MMAP_LIBRARY): void {
  if (tried) return;
  tried = true;
  if (process.platform !== 'linux') return;
  try {
    process.dlopen({ exports: {} }, library);
  } catch {
    // Missing, or not loadable here (musl, another architecture): the report runs with glibc's own threshold.
  }
}
