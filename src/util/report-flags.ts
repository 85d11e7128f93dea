// The V8 flags a command that reads a whole capture (the reports) runs with, set at run time, just before
// the capture is read, and set back to V8's defaults before the process exits.
//
// Set back because V8 ties a code cache to the flags it was made under: the CLI's cache is written at exit
// (bin/cli-bundle.js) when the start found none to use, and one made under these flags was refused by the
// next start, which compiled the bundle and wrote the cache again, every time (a report started without a
// cache did so before these flags were set back). The restore runs before any other 'exit' listener, so
// before the cache is written.
//
// --max-inlined-bytecode-size-cumulative=2000: the replay's path per event is a chain of small calls
// (decoder → orderer → builder → replay → live table → observers) that V8 inlines only up to a total of 920
// bytes of bytecode into the function it optimizes: past it the rest stay calls, one each per event. 2000
// inlines the chain, measured on a 50 M-event capture (docs/benchmarks.md, "Reports, round three"): 0.6 s
// less of 4.7 s of CPU for the forensic facts' replay. The flag only changes what the compiler inlines.
//
// --semi-space-growth-factor=1: V8's young generation stays at its first size (2 × 1 MiB) instead of
// doubling up to 2 × 8 MiB as a report's many short-lived objects survive scavenges (docs/benchmarks.md,
// "Report memory, round three"). --max-semi-space-size would say it directly, but V8 reads it only when the
// heap is set up (set at run time it changes nothing), and bin/memlens.js's first line has no room for it.
// Not 0: a factor of 0 makes a new space of size 0. `memlens run` keeps V8's default: its follower is
// tuned for CPU time, not memory.
//
// The same moment fixes glibc's mmap threshold for the rest of the process (src/util/malloc-tuning.ts):
// before the read makes the model's large arrays. Not set back: it matters to nothing after the process.

import { setFlagsFromString } from 'node:v8';
import { useReportMalloc } from './malloc-tuning.js';

/** Each flag with V8's default for it (node 20's `node --v8-options`), which the restore sets. */
const FLAGS: readonly (readonly [set: string, reset: string])[] = [
  ['--max-inlined-bytecode-size-cumulative=2000', '--max-inlined-bytecode-size-cumulative=920'],
  ['--semi-space-growth-factor=1', '--semi-space-growth-factor=2'],
];

let set = false;

/** Sets the reports' flags (once), to be set back when the process exits. */
export function useReportFlags(): void {
  if (set) return;
  set = true;
  for (const [flag] of FLAGS) setFlagsFromString(flag);
  useReportMalloc();
  // First among the 'exit' listeners: the code cache's writer was registered before the CLI started.
  process.prependOnceListener('exit', restoreReportFlags);
}

/** Sets V8's defaults back. */
export function restoreReportFlags(): void {
  if (!set) return;
  set = false;
  for (const [, reset] of FLAGS) setFlagsFromString(reset);
}
