// Processes forked over and over. The advice: pool processes (start the workers once and send them
// tasks), since every fork copies the page tables and, as the child writes, the pages it touches
// (reference counts are writes, so a Python child touches most of what it reads).

import { type DetectorInput, EVIDENCE_ROWS, type FindingCommon } from './finding.js';

/** Processes forked: a process pool forks its workers once (one per core); more means forking per task. */
export const FORK_CHURN_MIN = 16;

export const PROCESS_CHURN_TEXT = {
  title: 'Processes forked over and over',
  advice: 'Use a process pool: concurrent.futures.ProcessPoolExecutor or multiprocessing.Pool starts its workers once and sends them tasks, instead of forking a process per task.',
} as const;

export interface ProcessChurnFinding extends FindingCommon {
  readonly kind: 'process-churn';
  readonly forks: number;
  readonly firstNs: number;
  readonly lastNs: number;
  readonly childPids: readonly number[];
}

/** Works on every capture (FORK records are written in aggregated ones too). */
export function processChurn({ model }: DetectorInput): ProcessChurnFinding[] {
  const forks = model.forks;
  if (forks.length < FORK_CHURN_MIN) return [];
  let firstNs = Infinity;
  let lastNs = -Infinity;
  for (const f of forks) {
    firstNs = Math.min(firstNs, f.timeNs);
    lastNs = Math.max(lastNs, f.timeNs);
  }
  return [
    {
      kind: 'process-churn',
      ...PROCESS_CHURN_TEXT,
      bytes: 0,
      lines: [],
      forks: forks.length,
      firstNs,
      lastNs,
      childPids: forks.slice(0, EVIDENCE_ROWS).map((f) => f.childPid),
    },
  ];
}
