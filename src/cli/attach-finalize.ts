// The last step of an attach session, shared by `memlens detach` and the background collector: the
// capture goes where the user asked for it and is compressed, and the attach directory goes.
//
// Across mount namespaces the capture is in the attach directory, which the target's user can change:
// memlens copies it out only if it is a regular file the target wrote (attach-dir.ts), into a new private
// file at the user's path (output-file.ts). In the same file system the target wrote the user's path itself;
// memlens rewrites it (compression) only if it is still a regular file there, not a link put in its place.

import { closeSync, lstatSync, readSync } from 'node:fs';
import type { Session, SessionState } from '../process/attach.js';
import { claimSession, openSessionFile, releaseSession, removeSession } from '../process/attach.js';
import { writeAll } from '../util/safe-fs.js';
import type { Io } from './io.js';
import { recompressCaptureFile } from './capture-file.js';
import { MemlensError } from '../errors.js';
import { createOutputFile } from './output-file.js';
import { escapeLine } from '../util/terminal-text.js';

/**
 * Finalizes a session once; returns the capture's path as memlens sees it. Undefined when there is no
 * capture, or when the other finalizer (detach or the collector) took the session first.
 */
export async function finalizeCapture(io: Io, pid: number, session: Session, state: SessionState, oomLine?: string): Promise<string | undefined> {
  void pid;
  if (!claimSession(session)) {
    releaseSession(session);
    return undefined;
  }
  let path: string | undefined;
  try {
    path = bringCapture(session, state);
  } catch (e) {
    if (!(e instanceof MemlensError)) throw e;
    io.stderr.write(`memlens: warning: the capture was not collected: ${e.message}\n`);
  } finally {
    removeSession(session);
  }
  if (path !== undefined && oomLine !== undefined) await appendOomKill(io, path, oomLine);
  if (path !== undefined && state.compress) {
    try {
      await recompressCaptureFile(path);
    } catch (e) {
      if (!(e instanceof MemlensError)) throw e;
      io.stderr.write(`memlens: warning: ${escapeLine(path)} left uncompressed: ${escapeLine(e.message)}\n`);
    }
  }
  return path;
}

/**
 * The target was OOM-killed while tracked (the kernel's line, found by the collector): an EXIT record with
 * SIGKILL and that line, as `memlens run` appends for its own child. Its time is unknown (0): the capture's
 * last record is the end.
 */
async function appendOomKill(io: Io, path: string, line: string): Promise<void> {
  const { exitRecord, readHeaderOf } = await import('../process/finish.js');
  const { finishCaptureFile } = await import('./capture-file.js');
  try {
    await finishCaptureFile(path, exitRecord(readHeaderOf(path), { code: null, signal: 9, endMonoNs: 0n, oomKill: 1, detail: line }));
  } catch (e) {
    if (!(e instanceof MemlensError) && (e as NodeJS.ErrnoException).code === undefined) throw e;
    io.stderr.write(`memlens: warning: ${escapeLine(path)}: could not record the OOM kill: ${escapeLine(e instanceof Error ? e.message : String(e))}\n`);
  }
}

function bringCapture(session: Session, state: SessionState): string | undefined {
  const { targetOutput, userOutput } = state;
  if (targetOutput === undefined || userOutput === undefined) return undefined;
  if (targetOutput.startsWith(`${session.targetDir}/`)) {
    const from = openSessionFile(session, targetOutput.slice(session.targetDir.length + 1));
    if (from === undefined) return undefined;
    try {
      const to = createOutputFile(userOutput, { force: state.force ?? false });
      try {
        const buf = Buffer.alloc(1 << 20);
        for (;;) {
          const n = readSync(from.fd, buf, 0, buf.length, null);
          if (n === 0) break;
          writeAll(to, buf.subarray(0, n));
        }
      } finally {
        closeSync(to);
      }
    } finally {
      closeSync(from.fd);
    }
    return userOutput;
  }
  let st;
  try {
    st = lstatSync(userOutput);
  } catch {
    return undefined;
  }
  return st.isFile() ? userOutput : undefined;
}
