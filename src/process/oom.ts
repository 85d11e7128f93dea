// Whether the kernel's OOM killer ended a process: a SIGKILL, plus the kernel's own line about this PID
// (readable as root) or the cgroup's oom_kill counter having moved while it ran.

import { findOomKillLine } from './kernel-log.js';

export interface OomJudgement {
  /** 0 no, 1 yes, 2 cannot tell (the EXIT record's encoding). */
  readonly oomKill: 0 | 1 | 2;
  /** The kernel's line, or how it was told. */
  readonly detail: string;
}

/** `startedUs`: when the process started, on kernelClockUs (a PID's older kernel lines are another process's). */
export function judgeOomKill(pid: number, startedUs: number, signal: NodeJS.Signals | null, before: number | undefined, after: number | undefined): OomJudgement {
  if (signal !== 'SIGKILL') return { oomKill: 0, detail: '' };
  const line = findOomKillLine(pid, startedUs);
  if (line !== undefined) return { oomKill: 1, detail: line };
  if (before !== undefined && after !== undefined && after > before) {
    return { oomKill: 1, detail: `the cgroup's oom_kill count went from ${before} to ${after}` };
  }
  return { oomKill: 2, detail: before !== undefined && after !== undefined ? "SIGKILL, but the cgroup's oom_kill count did not move" : 'SIGKILL; the kernel log and the cgroup could not be read' };
}
