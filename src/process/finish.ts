// After the program ended: the EXIT record (how the process ended) that memlens appends to the capture, on
// the stream reserved for memlens itself.

import { closeSync, openSync, readSync } from 'node:fs';
import { FILE_HEADER_FIXED_LEN, MAX_HEADER_BODY_LEN, STREAM_MEMLENS } from '../capture/format.js';
import { decodeHeader } from '../capture/header.js';
import type { CaptureHeader, ExitRecord } from '../capture/records.js';

/**
 * The capture's header, or undefined when the file is missing, empty or has no whole header. One small
 * synchronous read: node's fs/promises is not loaded for it (docs/benchmarks.md, "The fixed cost, round three").
 */
export function readHeaderOf(path: string): CaptureHeader | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = new Uint8Array(FILE_HEADER_FIXED_LEN + MAX_HEADER_BODY_LEN);
    const bytesRead = readSync(fd, buf, 0, buf.length, 0);
    try {
      return decodeHeader(buf.subarray(0, bytesRead), path);
    } catch {
      return undefined;
    }
  } finally {
    closeSync(fd);
  }
}

export interface ExitFacts {
  readonly code: number | null;
  readonly signal: number;
  /** CLOCK_MONOTONIC when the end was seen (0n: unknown). */
  readonly endMonoNs: bigint;
  /** 0 no, 1 yes, 2 unknown. */
  readonly oomKill: number;
  readonly detail: string;
  /** The signal memlens itself received while the program ran (0 or absent: none). */
  readonly memlensSignal?: number;
}

/** The EXIT record memlens appends (src/cli/capture-file.ts appendToCaptureFile writes it). */
export function exitRecord(header: CaptureHeader | undefined, facts: ExitFacts): ExitRecord {
  let timeNs = 0;
  if (header !== undefined && facts.endMonoNs > 0n && header.startMonoNs > 0n && facts.endMonoNs > header.startMonoNs) {
    timeNs = Number(facts.endMonoNs - header.startMonoNs);
  }
  return {
    type: 'exit',
    stream: STREAM_MEMLENS,
    timeNs,
    exitCode: facts.code ?? 0,
    signal: facts.signal,
    oomKill: facts.oomKill,
    detail: facts.detail,
    ...(facts.memlensSignal !== undefined && facts.memlensSignal > 0 ? { memlensSignal: facts.memlensSignal } : {}),
  };
}
