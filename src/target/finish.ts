// After the program ended: memlens appends an EXIT record (how the process ended) to the capture, on the
// stream reserved for memlens itself.

import { open } from 'node:fs/promises';
import { CaptureWriter } from '../capture/encoder.js';
import { FILE_HEADER_FIXED_LEN, MAX_HEADER_BODY_LEN, STREAM_MEMLENS } from '../capture/format.js';
import { decodeHeader } from '../capture/header.js';
import type { CaptureHeader, ExitRecord } from '../capture/records.js';

/** The capture's header, or undefined when the file is missing, empty or has no whole header. */
export async function readHeaderOf(path: string): Promise<CaptureHeader | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = new Uint8Array(FILE_HEADER_FIXED_LEN + MAX_HEADER_BODY_LEN);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    try {
      return decodeHeader(buf.subarray(0, bytesRead), path);
    } catch {
      return undefined;
    }
  } finally {
    await fh.close();
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
}

/** The EXIT record's bytes: one block of the memlens stream. */
export function exitBlock(header: CaptureHeader | undefined, facts: ExitFacts): Uint8Array {
  let timeNs = 0;
  if (header !== undefined && facts.endMonoNs > 0n && header.startMonoNs > 0n && facts.endMonoNs > header.startMonoNs) {
    timeNs = Number(facts.endMonoNs - header.startMonoNs);
  }
  const rec: ExitRecord = {
    type: 'exit',
    stream: STREAM_MEMLENS,
    timeNs,
    exitCode: facts.code ?? 0,
    signal: facts.signal,
    oomKill: facts.oomKill,
    detail: facts.detail,
  };
  const w = new CaptureWriter();
  w.meta(rec);
  return w.finish();
}

/** Appends the EXIT record; false if the capture has no readable header (nothing was captured). */
export async function appendExit(path: string, facts: ExitFacts): Promise<boolean> {
  const header = await readHeaderOf(path);
  if (header === undefined) return false;
  const fh = await open(path, 'a');
  try {
    await fh.write(exitBlock(header, facts));
  } finally {
    await fh.close();
  }
  return true;
}
