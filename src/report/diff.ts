// `memlens diff`: totals at the peak and at the end, then the stacks that grew or shrank most.

import type { CaptureDiff, StackDelta } from '../analysis/diff.js';
import { type Paint, noPaint } from '../util/paint.js';
import { displayPath, truncateLeft } from '../util/text.js';
import { formatBytes, formatSignedBytes } from '../util/units.js';
import { escapeLine } from '../util/terminal-text.js';

export interface DiffTextOptions {
  readonly width: number;
  readonly cwd: string;
  readonly maxRows: number;
  readonly paint?: Paint;
}

export function renderDiff(diff: CaptureDiff, options: DiffTextOptions): string {
  const paint = options.paint ?? noPaint;
  const out: string[] = [];
  const total = (name: string, t: { before: number; after: number }): string =>
    `${name}: ${formatBytes(t.before)} → ${formatBytes(t.after)} (${paint(t.after > t.before ? 'red' : 'green', formatSignedBytes(t.after - t.before))})`;
  out.push(total('Peak tracked heap', diff.peak), total('Live at the end', diff.end), '');
  const growth = (d: StackDelta): number => (diff.by === 'peak' ? d.afterPeak - d.beforePeak : d.afterEnd - d.beforeEnd);
  const rows = diff.stacks.filter((d) => growth(d) !== 0).slice(0, options.maxRows);
  if (rows.length === 0) {
    out.push(diff.stacks.length === 0 ? 'No stack changed: the two captures hold the same memory by stack.' : `No stack changed ${diff.by === 'peak' ? 'at the peak' : 'at the end'}.`);
  } else {
    out.push(paint('bold', `Stacks by growth ${diff.by === 'peak' ? 'at the peak' : 'at the end'}, largest first:`));
    for (const d of rows) {
      const g = growth(d);
      const head = `${paint(g > 0 ? 'red' : 'green', formatSignedBytes(g).padStart(12))}  ${formatBytes(diff.by === 'peak' ? d.beforePeak : d.beforeEnd)} → ${formatBytes(diff.by === 'peak' ? d.afterPeak : d.afterEnd)}`;
      out.push(head);
      const frames = d.frames.length === 0 ? ['<no Python stack>'] : d.frames.map((f) => `${escapeLine(f.function)} at ${escapeLine(displayPath(f.file, options.cwd))}${f.line > 0 ? `:${f.line}` : ''}`);
      // Innermost frames matter most: show the last three, outermost first.
      const shown = frames.slice(-3);
      if (frames.length > shown.length) out.push(paint('dim', `      … ${frames.length - shown.length} caller${frames.length - shown.length === 1 ? '' : 's'}`));
      for (const f of shown) out.push(`      ${truncateLeft(f, Math.max(20, options.width - 6))}`);
    }
    const more = diff.stacks.filter((d) => growth(d) !== 0).length - rows.length;
    if (more > 0) out.push(paint('dim', `… ${more} more stack${more === 1 ? '' : 's'} changed (--max-rows)`));
  }
  const [a, b] = diff.sampledEvery;
  if (a > 0 || b > 0) {
    const which = a > 0 && b > 0 ? 'both captures are' : a > 0 ? 'the first capture is' : 'the second capture is';
    out.push('', paint('dim', `Note: ${which} sampled: its figures are estimates, and a change smaller than their noise (about √(rate/bytes) of a stack's bytes) may be chance.`));
  }
  if (diff.differentPrograms) {
    out.push('', paint('yellow', `Warning: the captures ran different programs (${diff.programs[0]} / ${diff.programs[1]}): stacks may not match.`));
  }
  return out.join('\n') + '\n';
}

export function diffJson(diff: CaptureDiff): Record<string, unknown> {
  return {
    peak: { before: diff.peak.before, after: diff.peak.after, delta: diff.peak.after - diff.peak.before },
    end: { before: diff.end.before, after: diff.end.after, delta: diff.end.after - diff.end.before },
    by: diff.by,
    different_programs: diff.differentPrograms,
    programs: diff.programs,
    stacks: diff.stacks.map((d) => ({
      frames: d.frames,
      peak: { before: d.beforePeak, after: d.afterPeak, delta: d.afterPeak - d.beforePeak, before_count: d.beforePeakCount, after_count: d.afterPeakCount },
      end: { before: d.beforeEnd, after: d.afterEnd, delta: d.afterEnd - d.beforeEnd, before_count: d.beforeEndCount, after_count: d.afterEndCount },
    })),
  };
}
