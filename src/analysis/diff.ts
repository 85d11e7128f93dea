// The diff of two captures of the same program: which stacks grew or shrank at the peak and at the end,
// by how much. Stacks are matched by their frames (function, file, line), or by (function, file) with
// `ignoreLines` when the code moved between the two runs.

import type { FrameFilter } from '../model/frames.js';
import type { CaptureModel } from '../model/model.js';
import { highWaterMark } from './high-water-mark.js';
import { leaks } from './leaks.js';
import { stacksOf } from './stacks.js';

export interface DiffFrame {
  readonly function: string;
  readonly file: string;
  readonly line: number;
}

export interface StackDelta {
  /** Root first. */
  readonly frames: readonly DiffFrame[];
  beforePeak: number;
  afterPeak: number;
  beforeEnd: number;
  afterEnd: number;
  beforePeakCount: number;
  afterPeakCount: number;
  beforeEndCount: number;
  afterEndCount: number;
}

export interface Totals {
  readonly before: number;
  readonly after: number;
}

export interface CaptureDiff {
  readonly peak: Totals;
  readonly end: Totals;
  /** Sorted by growth of `by`, largest first; unchanged stacks left out. */
  readonly stacks: readonly StackDelta[];
  readonly by: 'peak' | 'end';
  /** The two captures ran different programs (compared by command line): the diff may mean little. */
  readonly differentPrograms: boolean;
  readonly programs: readonly [string, string];
  /** Each capture's sampling rate in bytes, or 0 when it recorded every allocation (then exact). */
  readonly sampledEvery: readonly [number, number];
}

export interface DiffOptions {
  readonly filter: FrameFilter;
  readonly by?: 'peak' | 'end';
  readonly ignoreLines?: boolean;
}

export function diffCaptures(before: CaptureModel, after: CaptureModel, options: DiffOptions): CaptureDiff {
  const byKey = new Map<string, StackDelta>();
  const ignoreLines = options.ignoreLines === true;
  const add = (model: CaptureModel, which: 'before' | 'after', at: 'Peak' | 'End'): void => {
    const set = at === 'Peak' ? highWaterMark(model) : leaks(model);
    for (const st of stacksOf(model, set, { filter: options.filter })) {
      const frames = st.frames.map((id) => {
        const f = model.frames.frame(id);
        return { function: f.function, file: f.file, line: ignoreLines ? 0 : f.line };
      });
      const key = frames.map((f) => `${f.function}\u0000${f.file}\u0000${f.line}`).join('\u0001');
      let d = byKey.get(key);
      if (d === undefined) {
        d = {
          frames,
          beforePeak: 0,
          afterPeak: 0,
          beforeEnd: 0,
          afterEnd: 0,
          beforePeakCount: 0,
          afterPeakCount: 0,
          beforeEndCount: 0,
          afterEndCount: 0,
        };
        byKey.set(key, d);
      }
      d[`${which}${at}`] += st.bytes;
      d[`${which}${at}Count`] += st.count;
    }
  };
  add(before, 'before', 'Peak');
  add(after, 'after', 'Peak');
  add(before, 'before', 'End');
  add(after, 'after', 'End');

  const by = options.by ?? 'peak';
  const growth = (d: StackDelta): number => (by === 'peak' ? d.afterPeak - d.beforePeak : d.afterEnd - d.beforeEnd);
  const stacks = [...byKey.values()]
    .filter((d) => d.afterPeak !== d.beforePeak || d.afterEnd !== d.beforeEnd)
    .sort((a, b) => growth(b) - growth(a) || Math.abs(b.afterPeak - b.beforePeak) - Math.abs(a.afterPeak - a.beforePeak));
  const programs = [programOf(before), programOf(after)] as const;
  return {
    peak: { before: before.peakHeap, after: after.peakHeap },
    end: { before: before.endHeap, after: after.endHeap },
    stacks,
    by,
    differentPrograms: programs[0] !== programs[1],
    programs,
    sampledEvery: [before.sampling?.rateBytes ?? 0, after.sampling?.rateBytes ?? 0],
  };
}

/** What a capture ran, for "same program?": the script or module and its arguments. */
export function programOf(model: CaptureModel): string {
  const h = model.header;
  if (h.script !== '') return h.script;
  return h.argv.join(' ');
}
