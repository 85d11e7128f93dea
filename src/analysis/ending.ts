// How the process ended, as the capture tells it (its EXIT record, written by `memlens run`, and its
// trailer), and the one sentence every output says it with: the verdict's first line, the HTML report's
// headline, the live views' end line.

import { MARKER_KINDS, TRAILER_REASONS } from '../capture/format.js';
import type { CaptureModel } from '../model/model.js';
import { signalName } from '../util/signals.js';
import { formatTime } from '../util/units.js';
import { escapeLine } from '../util/terminal-text.js';
import { type ProgramEnd, programEndOf } from './program-end.js';

export type OomKill = 'yes' | 'no' | 'unknown';

/**
 * Why tracking stopped, in one word: the process ended (`exit` with a status when memlens ran it, `signal`,
 * `oom-kill`, `_exit`), or tracking stopped while it went on (`detach`, `duration`, `interrupted`: memlens
 * was stopped with Ctrl-C, `program`: the program stopped tracking itself, `fork-child-stopped`), or the
 * capture does not say (`unknown`: an older agent's trailer, or neither a trailer nor an exit record).
 */
export type StopReason = 'exit' | 'signal' | 'oom-kill' | '_exit' | 'detach' | 'duration' | 'interrupted' | 'program' | 'fork-child-stopped' | 'capture-stopped' | 'unknown';

/** Reasons after which the process went on running untracked. */
const WENT_ON: ReadonlySet<StopReason> = new Set(['detach', 'duration', 'interrupted', 'program', 'fork-child-stopped']);

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
  /** Why tracking stopped, all records considered. */
  readonly stopReason: StopReason;
  /** Tracking stopped while the process went on running (detach, --duration, ...): its end is not in the capture. */
  readonly wentOn: boolean;
  /** When tracking stopped (the trailer), if that is before the process ended. */
  readonly stopNs: number | undefined;
  /** The signal memlens itself received while the program ran (`memlens run`: Ctrl-C is SIGINT), if any. */
  readonly memlensSignal?: number | undefined;
  /** When the process ended (EXIT), else the last thing the capture saw (ns since tracking started). */
  readonly endNs: number;
  /** Writing the capture failed before the end (a CAPTURE_STOPPED marker): nothing after it is in it. */
  readonly captureStop: CaptureStop | undefined;
  /** The program's end as `memlens run`'s bootstrap marked it (program-end.ts); undefined: not marked. */
  readonly programEnd?: ProgramEnd | undefined;
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
  const fromTrailer = trailerStopReason(trailerReason);
  const wentOn = WENT_ON.has(fromTrailer);
  const stopNs = wentOn && t !== undefined ? t.timeNs : undefined;
  const base = { trailerReason, endNs, captureStop, wentOn, stopNs, programEnd: programEndOf(model) };
  if (e !== undefined) {
    const oomKill: OomKill = e.oomKill === 1 ? 'yes' : e.oomKill === 0 ? 'no' : 'unknown';
    const memlensSignal = e.memlensSignal;
    if (memlensSignal !== undefined && !wentOn) {
      // memlens was interrupted (Ctrl-C reaches the program too) or told to stop, and passed it on.
      const common = {
        ...base,
        oomKill,
        detail: e.detail,
        memlensSignal,
        stopReason: memlensSignal === SIGINT ? ('interrupted' as const) : oomKill === 'yes' ? ('oom-kill' as const) : e.signal !== 0 ? ('signal' as const) : ('exit' as const),
      };
      if (e.signal !== 0) return { ...common, kind: 'signal', exitCode: undefined, signal: e.signal };
      return { ...common, kind: 'exited', exitCode: e.exitCode, signal: undefined };
    }
    // Tracking that stopped before the end (the program stopped it) keeps that reason; the EXIT record
    // then tells how the process ended afterwards.
    if (e.signal !== 0) return { ...base, kind: 'signal', exitCode: undefined, signal: e.signal, oomKill, detail: e.detail, stopReason: wentOn ? fromTrailer : oomKill === 'yes' ? 'oom-kill' : 'signal' };
    return { ...base, kind: 'exited', exitCode: e.exitCode, signal: undefined, oomKill, detail: e.detail, stopReason: wentOn ? fromTrailer : fromTrailer === '_exit' ? '_exit' : 'exit' };
  }
  if (t !== undefined) return { ...base, kind: 'stopped', exitCode: undefined, signal: undefined, oomKill: undefined, detail: '', stopReason: fromTrailer };
  return { ...base, kind: 'abrupt', exitCode: undefined, signal: undefined, oomKill: undefined, detail: '', trailerReason: undefined, stopReason: 'unknown' };
}

function trailerStopReason(reason: string | undefined): StopReason {
  switch (reason) {
    case 'exit':
    case '_exit':
    case 'detach':
    case 'duration':
    case 'interrupted':
    case 'program':
    case 'fork-child-stopped':
    case 'capture-stopped':
      return reason;
    default:
      // `stopped` (an older agent wrote it for every stop), or a reason this memlens does not know.
      return 'unknown';
  }
}

/** How it ended in a few words, for a line of figures: `exited with status 3`, `memlens detached; the process went on`. */
export function describeEndingBrief(e: Ending): string {
  const went = e.wentOn
    ? `tracking stopped at ${formatTime(e.stopNs ?? 0)} (${wentOnCause(e.stopReason)}); `
    : e.memlensSignal !== undefined
      ? `memlens ${e.memlensSignal === SIGINT ? 'interrupted (Ctrl-C)' : `received ${signalName(e.memlensSignal)}`}; `
      : '';
  switch (e.kind) {
    case 'signal':
      return `${went}killed by ${signalName(e.signal ?? 0)}${e.oomKill === 'yes' ? " (the kernel's OOM killer)" : e.oomKill === 'no' ? '' : ' (OOM killer: cannot tell)'}`;
    case 'exited':
      return `${went}exited with status ${e.exitCode ?? 0}`;
    case 'stopped':
      if (e.wentOn) return `tracking stopped (${wentOnCause(e.stopReason)}); the process went on`;
      if (e.stopReason === 'exit') return 'the program exited (status not recorded)';
      if (e.stopReason === '_exit') return 'the program left through os._exit';
      return 'tracking stopped (why is not recorded)';
    case 'abrupt':
      return 'abruptly: killed, or still running';
  }
}

/**
 * Which end "live at the end" means, in words, from why tracking stopped. When `memlens run` marked the
 * program's end (program-end.ts), that is after the program's code, its threads and its exit handlers,
 * once the script's module-level names were released (as memray releases the script's namespace): a
 * script-level `data = load()` is not counted. Captures without the mark (older ones) were stopped before
 * that release, and say so.
 */
export function describeEndMoment(e: Ending, attached: boolean): string {
  const p = e.programEnd;
  if (p !== undefined && !e.wentOn) {
    const at = `at the program's end (${formatTime(p.timeNs)}): after its code, threads and exit handlers`;
    return p.released
      ? `${at}, with the script's module-level names released as at the interpreter's teardown, so what only they held is not counted`
      : `${at}; the script's module-level names were not released (${escapeLine(p.keptBecause)}), so what they refer to counts`;
  }
  switch (e.stopReason) {
    case 'exit':
      return attached
        ? "at the program's exit, before the interpreter's teardown (module-level names still held)"
        : "at the program's exit, after its exit handlers and before the interpreter's teardown: what the script's module-level names still refer to counts (memray releases them first)";
    case '_exit':
      return 'when the program left through os._exit (nothing was released first)';
    case 'signal':
    case 'oom-kill':
      return 'when the process was killed';
    case 'detach':
    case 'duration':
    case 'interrupted':
    case 'program':
    case 'fork-child-stopped':
      return `when tracking stopped${e.stopNs !== undefined ? ` at ${formatTime(e.stopNs)}` : ''}, the process still running`;
    default:
      return e.kind === 'abrupt' ? 'at the last record of the capture' : 'when tracking stopped';
  }
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
      const before = stoppedBefore(e) + interruptedBefore(e);
      if (e.oomKill === 'yes') return `${before}Killed by the kernel's OOM killer (${sig})${at}.`;
      if (e.oomKill === 'no') return `${before}Killed by ${sig}${at}; not by the OOM killer.`;
      return `${before}Killed by ${sig}${at}; whether the OOM killer sent it cannot be told${e.detail !== '' ? ` (${escapeLine(e.detail)})` : ''}.`;
    }
    case 'exited':
      return `${stoppedBefore(e)}${interruptedBefore(e)}Exited with status ${e.exitCode ?? 0}${at}; not killed (so not by the OOM killer).`;
    case 'stopped':
      return stoppedSentence(e, at);
    case 'abrupt':
      // Writing the capture failed (the sentence after this one says why): the process went on, untracked.
      if (e.captureStop !== undefined) return 'How the process ended is not in the capture: memlens did not watch it end (no exit record).';
      return `The capture ends abruptly (no trailer, no exit record): the process was killed or is still running.${e.endNs > 0 ? ` The last record is${at}.` : ''} Whether the OOM killer ended it cannot be told.`;
  }
}

/** `Tracking stopped at 2.000 s (the program stopped it); the process went on. ` before how it ended later. */
function stoppedBefore(e: Ending): string {
  if (!e.wentOn || e.stopNs === undefined) return '';
  return `Tracking stopped at ${formatTime(e.stopNs)} (${wentOnCause(e.stopReason)}); the process went on untracked. `;
}

function wentOnCause(r: StopReason): string {
  switch (r) {
    case 'detach':
      return 'memlens detached';
    case 'duration':
      return "the attach's --duration elapsed";
    case 'interrupted':
      return 'memlens was interrupted (Ctrl-C) and detached';
    case 'program':
      return 'the program stopped tracking itself';
    case 'fork-child-stopped':
      return 'a forked child stopped tracking';
    case 'capture-stopped':
      return 'the capture could not be written any more: its reader or the disk fell behind, or a write failed';
    default:
      return 'why is not recorded';
  }
}

const SIGINT = 2;

/** `memlens was interrupted (Ctrl-C) and the program with it. ` before how the program ended. */
function interruptedBefore(e: Ending): string {
  const s = e.memlensSignal;
  if (s === undefined) return '';
  if (s === SIGINT) return 'memlens was interrupted (Ctrl-C), and the program with it. ';
  return `memlens received ${signalName(s)} and passed it on to the program. `;
}

const NO_EXIT_RECORD = 'memlens did not run it, so there is no exit record';

function stoppedSentence(e: Ending, at: string): string {
  if (e.wentOn) {
    return `Tracking stopped${at}: ${wentOnCause(e.stopReason)}. The process was still running then and went on untracked: what it did afterwards, and how it ended, are not in the capture.`;
  }
  switch (e.stopReason) {
    case 'exit':
      // The bootstrap's atexit handler wrote the trailer: the interpreter was shutting down, not killed.
      return `The program exited${at}: its interpreter ran its exit handlers, so it was not killed (not by the OOM killer either). Its exit status is not in the capture (${NO_EXIT_RECORD}).`;
    case '_exit':
      return `The program left through os._exit${at}; its exit status is not in the capture (${NO_EXIT_RECORD}).`;
    case 'capture-stopped':
      // The agent stopped itself (the sentence after this one says why); memlens did not watch the end.
      return `Tracking stopped${at}: the capture could not be written any more. Whether the process went on, and how it ended, are not in the capture.`;
    default:
      return `Tracking stopped${at}; why is not recorded (the agent that wrote this capture, older than this memlens, recorded every stop alike). Whether the process went on, and how it ended, are not in the capture.`;
  }
}
