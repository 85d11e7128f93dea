// `memlens results`: what a program needs from a capture in one JSON document (the Python API's
// memlens.load and the pytest plugin read it): the peak and the leaks with their largest stacks, the
// verdict and its findings. Stacks list their frames innermost first, as memray's and pytest-memray's do.

import type { HighWaterMark } from '../analysis/high-water-mark.js';
import type { Leaks } from '../analysis/leaks.js';
import type { StackAmount } from '../analysis/stacks.js';
import type { Verdict } from '../analysis/verdict.js';
import { MODE_ATTACH, OPTION_PYTHON_ALLOCATORS } from '../capture/format.js';
import type { CaptureModel } from '../model/model.js';
import { describeCapture } from './describe.js';
import { verdictJson } from './verdict.js';
import { jsonDocument } from '../util/json-document.js';

export interface ResultsSelection {
  /** The capture file, as given. */
  readonly path: string;
  readonly peak: HighWaterMark | undefined;
  readonly peakStacks: readonly StackAmount[];
  readonly leaks: Leaks;
  readonly leakStacks: readonly StackAmount[];
  readonly verdict: Verdict;
  /** Stacks listed per set: the largest `top`, and beyond them every one of at least `over` bytes. */
  readonly top: number;
  readonly over: number | undefined;
}

function stackJson(model: CaptureModel, s: StackAmount): Record<string, unknown> {
  const frames = [...s.frames].reverse().map((id) => {
    const f = model.frames.frame(id);
    return { function: f.function, file: f.file, line: f.line };
  });
  return { bytes: s.bytes, count: s.count, frames };
}

/** The stacks a caller asked for: the first `top`, then those of at least `over` bytes (sorted by bytes). */
export function chosenStacks(stacks: readonly StackAmount[], top: number, over: number | undefined): StackAmount[] {
  return stacks.filter((s, i) => i < top || (over !== undefined && s.bytes >= over));
}

export function resultsJson(model: CaptureModel, r: ResultsSelection): Record<string, unknown> {
  const h = model.header;
  const v = verdictJson(model, r.verdict);
  const { findings, ...verdict } = v;
  return jsonDocument('results', {
    path: r.path,
    capture: {
      description: describeCapture(model),
      pid: h.pid,
      argv: h.argv,
      python_version: h.pythonVersion,
      python_allocator: h.pythonAllocator,
      attached: h.mode === MODE_ATTACH,
      aggregated: model.aggregated,
      native_stacks: model.nativeStacks,
      trace_python_allocators: (h.options & OPTION_PYTHON_ALLOCATORS) !== 0,
      duration_ns: model.durationNs,
      cgroup_limit_bytes: h.cgroupLimitBytes ?? null,
    },
    peak:
      r.peak === undefined
        ? null
        : {
            bytes: r.peak.totalBytes,
            allocations: r.peak.totalCount,
            time_ns: r.peak.timeNs ?? null,
            stacks: chosenStacks(r.peakStacks, r.top, undefined).map((s) => stackJson(model, s)),
          },
    leaks: {
      bytes: r.leaks.totalBytes,
      allocations: r.leaks.totalCount,
      caveats: r.leaks.caveats,
      stacks: chosenStacks(r.leakStacks, r.top, r.over).map((s) => stackJson(model, s)),
    },
    verdict,
    findings,
  });
}
