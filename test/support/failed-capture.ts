// A capture whose test failed is kept for whoever reads the failure: the test's own directory is removed
// when the test file ends, and a verdict that failed only on a busy machine (a flake) cannot be made again
// on a quiet one. Copied to $TMPDIR/memlens-failed-captures, its path added to the error.

import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export const FAILED_CAPTURES = join(tmpdir(), 'memlens-failed-captures');

/** Runs `check`; if it throws, keeps `capture` (when there is one) under `name` and says where in the error. */
export async function keepCaptureOnFailure<T>(capture: string, name: string, check: () => Promise<T> | T): Promise<T> {
  try {
    return await check();
  } catch (err) {
    if (existsSync(capture)) {
      mkdirSync(FAILED_CAPTURES, { recursive: true });
      const kept = join(FAILED_CAPTURES, `${name}-${process.pid}-${basename(capture)}`);
      copyFileSync(capture, kept);
      if (err instanceof Error) err.message += `\n(the capture is kept: ${kept})`;
    }
    throw err;
  }
}
