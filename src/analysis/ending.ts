// How the process ended, as the capture tells it (its EXIT record, written by `memlens run`, and its
// trailer), and the one sentence every output says it with: the verdict's first line, the HTML report's
// headline, the live views' end line.

import { TRAILER_REASONS } from '../capture/format.js';
import type { CaptureModel } from '../model/model.js';
import { signalName } from '../util/signals.js';
import { formatTime } from '../util/units.js';

export type OomKill = 'yes' | 'no' | 'unknown';

export interface Ending {
  /**
   * `exited`: with a status; `signal`: killed by a signal; `stopped`: tracking stopped (trailer) and memlens
   * did not see the process end (attach, or a capture made without `memlens run`); `abrupt`: neither a
   * trailer nor an exit record: killed, or still running.
   */
  readonly kind: 'exited' | 'signal' | 'stopped' | 'abrupt';
  readonly exitCode: number | undefined;
  readonly signal: number | undefined;
  /** From the EXIT record; undefined when there is none (nobody watched the process end). */
  readonly oomKill: OomKill | undefined;
  /** The kernel's OOM line, or how the OOM kill was told. */
  readonly detail: string;
  /** Why tracking stopped (the trailer's reason), if it did. */
  readonly trailerReason: string | undefined;
  /** When the process ended (EXIT), else the last thing the capture saw (ns since tracking started). */
  readonly endNs: number;
}

/** How the process ended, from the capture's EXIT record and trailer. */
export function endingOf(model: CaptureModel): Ending {
  const e = model.exit;
  const t = model.trailer;
  const trailerReason = t === undefined ? undefined : (TRAILER_REASONS[t.reason] ?? `reason ${t.reason}`);
  const endNs = Math.max(model.durationNs, e?.timeNs ?? 0);
  if (e !== undefined) {
    const oomKill: OomKill = e.oomKill === 1 ? 'yes' : e.oomKill === 0 ? 'no' : 'unknown';
    if (e.signal !== 0) return { kind: 'signal', exitCode: undefined, signal: e.signal, oomKill, detail: e.detail, trailerReason, endNs };
    return { kind: 'exited', exitCode: e.exitCode, signal: undefined, oomKill, detail: e.detail, trailerReason, endNs };
  }
  if (t !== undefined) return { kind: 'stopped', exitCode: undefined, signal: undefined, oomKill: undefined, detail: '', trailerReason, endNs };
  return { kind: 'abrupt', exitCode: undefined, signal: undefined, oomKill: undefined, detail: '', trailerReason: undefined, endNs };
}

/** How the process ended, in one sentence: `Exited with status 3 at 4.210 s; not killed (so not by the OOM killer).` */
export function describeEnding(e: Ending): string {
  const at = ` at ${formatTime(e.endNs)}`;
  switch (e.kind) {
    case 'signal': {
      const sig = `${signalName(e.signal ?? 0)}, signal ${e.signal ?? 0}`;
      if (e.oomKill === 'yes') return `Killed by the kernel's OOM killer (${sig})${at}.`;
      if (e.oomKill === 'no') return `Killed by ${sig}${at}; not by the OOM killer.`;
      return `Killed by ${sig}${at}; whether the OOM killer sent it cannot be told${e.detail !== '' ? ` (${e.detail})` : ''}.`;
    }
    case 'exited':
      return `Exited with status ${e.exitCode ?? 0}${at}; not killed (so not by the OOM killer).`;
    case 'stopped':
      return `Tracking stopped (${stopReason(e.trailerReason)})${at}. How the process ended is not in the capture (memlens did not run it, so no exit record): whether the OOM killer ended it cannot be told.`;
    case 'abrupt':
      return `The capture ends abruptly (no trailer, no exit record): the process was killed or is still running.${e.endNs > 0 ? ` The last record is${at};` : ''} Whether the OOM killer ended it cannot be told.`;
  }
}

function stopReason(reason: string | undefined): string {
  switch (reason) {
    case 'exit':
      return 'the program exited';
    case 'detach':
      return 'memlens detached';
    case 'duration':
      return 'the --duration elapsed';
    case '_exit':
      return 'the program left through os._exit';
    case 'fork-child-stopped':
      return 'a forked child stopped tracking';
    case 'capture-stopped':
      return 'the capture could not be written any more: its reader or the disk fell behind, or a write failed';
    default:
      return reason ?? 'unknown reason';
  }
}
