// How the process ended, as the capture tells it (its EXIT record, written by `memlens run`, and its
// trailer), and the one sentence every output says it with: the verdict's first line, the HTML report's
// headline, the live views' end line.

import { MARKER_KINDS, TRAILER_REASONS } from '../capture/format.js';
import type { CaptureModel } from '../model/model.js';
import { signalName } from '../util/signals.js';
import { formatTime } from '../util/units.js';
import { escapeLine } from '../util/terminal-text.js';

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
  /** Writing the capture failed before the end (a CAPTURE_STOPPED marker): nothing after it is in it. */
  readonly captureStop: CaptureStop | undefined;
}

/** Where and why a capture stops before its process ended: writing it failed (docs/reports.md). */
export interface CaptureStop {
  /** ns since tracking started. */
  readonly timeNs: number;
  /** The marker's label: the errno's name and what it means (`ENOSPC: no space left on the device`). */
  readonly why: string;
}

/** The capture's CAPTURE_STOPPED marker (the agent's, or memlens's when the agent had no room for it). */
export function captureStopOf(model: CaptureModel): CaptureStop | undefined {
  const m = model.markers.find((x) => MARKER_KINDS[x.kind] === 'capture-stopped');
  return m === undefined ? undefined : { timeNs: m.timeNs, why: m.label };
}

/** What made writing a capture fail, in words: `the disk filled up`. */
export function describeWriteFailure(why: string): string {
  const name = why.slice(0, why.indexOf(':') < 0 ? why.length : why.indexOf(':'));
  switch (name) {
    case 'ENOSPC':
      return 'the disk filled up';
    case 'EDQUOT':
      return 'the disk quota ran out';
    case 'EFBIG':
      return 'the file reached the largest size allowed';
    default:
      return `writing it failed (${escapeLine(why)})`;
  }
}

/** `The capture stops at 0.846 s: the disk filled up (ENOSPC: …); what the program did after that is not in it.` */
export function describeCaptureStop(s: CaptureStop): string {
  const words = describeWriteFailure(s.why);
  const detail = words.startsWith('writing') ? '' : ` (${escapeLine(s.why)})`;
  return `The capture stops at ${formatTime(s.timeNs)}: ${words}${detail}; what the program did after that is not in it.`;
}

/** How the process ended, from the capture's EXIT record and trailer. */
export function endingOf(model: CaptureModel): Ending {
  const e = model.exit;
  const t = model.trailer;
  const trailerReason = t === undefined ? undefined : (TRAILER_REASONS[t.reason] ?? `reason ${t.reason}`);
  const endNs = Math.max(model.durationNs, e?.timeNs ?? 0);
  const captureStop = captureStopOf(model);
  if (e !== undefined) {
    const oomKill: OomKill = e.oomKill === 1 ? 'yes' : e.oomKill === 0 ? 'no' : 'unknown';
    if (e.signal !== 0) return { kind: 'signal', exitCode: undefined, signal: e.signal, oomKill, detail: e.detail, trailerReason, endNs, captureStop };
    return { kind: 'exited', exitCode: e.exitCode, signal: undefined, oomKill, detail: e.detail, trailerReason, endNs, captureStop };
  }
  if (t !== undefined) return { kind: 'stopped', exitCode: undefined, signal: undefined, oomKill: undefined, detail: '', trailerReason, endNs, captureStop };
  return { kind: 'abrupt', exitCode: undefined, signal: undefined, oomKill: undefined, detail: '', trailerReason: undefined, endNs, captureStop };
}

/**
 * How the process ended, in one sentence: `Exited with status 3 at 4.210 s; not killed (so not by the OOM
 * killer).`, followed by where the capture stops when writing it failed before that.
 */
export function describeEnding(e: Ending): string {
  const how = describeEndingOnly(e);
  return e.captureStop === undefined ? how : `${how} ${describeCaptureStop(e.captureStop)}`;
}

function describeEndingOnly(e: Ending): string {
  const at = ` at ${formatTime(e.endNs)}`;
  switch (e.kind) {
    case 'signal': {
      const sig = `${signalName(e.signal ?? 0)}, signal ${e.signal ?? 0}`;
      if (e.oomKill === 'yes') return `Killed by the kernel's OOM killer (${sig})${at}.`;
      if (e.oomKill === 'no') return `Killed by ${sig}${at}; not by the OOM killer.`;
      return `Killed by ${sig}${at}; whether the OOM killer sent it cannot be told${e.detail !== '' ? ` (${escapeLine(e.detail)})` : ''}.`;
    }
    case 'exited':
      return `Exited with status ${e.exitCode ?? 0}${at}; not killed (so not by the OOM killer).`;
    case 'stopped':
      return `Tracking stopped (${stopReason(e.trailerReason)})${at}. How the process ended is not in the capture (memlens did not run it, so no exit record): whether the OOM killer ended it cannot be told.`;
    case 'abrupt':
      // Writing the capture failed (the sentence after this one says why): the process went on, untracked.
      if (e.captureStop !== undefined) return 'How the process ended is not in the capture: memlens did not watch it end (no exit record).';
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
    default:
      return reason ?? 'unknown reason';
  }
}
