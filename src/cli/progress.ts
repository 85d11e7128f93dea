// A one-line progress bar on stderr for long reads. Drawn only on a terminal, only for big inputs, at most
// ten times a second; finish() erases it so that the next line starts clean.

import { control } from '../util/terminal-text.js';
import { formatBytes } from '../util/units.js';
import type { Io } from './io.js';

export interface Progress {
  update(done: number): void;
  finish(): void;
}

export const NO_PROGRESS: Progress = { update: () => undefined, finish: () => undefined };

/** Inputs smaller than this read too fast for a bar to help. */
export const PROGRESS_MIN_BYTES = 64 << 20;
const INTERVAL_MS = 100;

export function byteProgress(io: Io, label: string, total: number, options: { force?: boolean } = {}): Progress {
  if (options.force !== true && (io.stderr.isTTY !== true || total < PROGRESS_MIN_BYTES)) return NO_PROGRESS;
  const start = io.now();
  let last = -Infinity;
  let drawn = false;
  const width = Math.max(10, Math.min(40, (io.stderr.columns ?? 80) - label.length - 40));
  return {
    update(done: number): void {
      const now = io.now();
      if (now - last < INTERVAL_MS && done < total) return;
      last = now;
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const filled = Math.round(frac * width);
      const secs = (now - start) / 1000;
      const rate = secs > 0 ? `${formatBytes(done / secs)}/s` : '';
      io.stderr.write(
        `${control('carriageReturn')}${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(done)} / ${formatBytes(total)} ${rate}${control('clearToEnd')}`,
      );
      drawn = true;
    },
    finish(): void {
      if (drawn) io.stderr.write(control('carriageReturn') + control('clearToEnd'));
      drawn = false;
    },
  };
}
