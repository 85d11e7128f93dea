// The last step of an attach session, shared by `memlens detach` and the background collector: the
// capture goes where the user asked for it and is compressed.

import type { Session, SessionState } from '../process/attach.js';
import { collectCapture } from '../process/attach.js';
import type { Io } from './io.js';
import { recompressCaptureFile } from './capture-file.js';
import { MemlensError } from '../errors.js';

export async function finalizeCapture(io: Io, pid: number, session: Session, state: SessionState): Promise<string | undefined> {
  const path = collectCapture(pid, session, state);
  if (path !== undefined && state.compress) {
    try {
      await recompressCaptureFile(path);
    } catch (e) {
      if (!(e instanceof MemlensError)) throw e;
      io.stderr.write(`memlens: warning: ${path} left uncompressed: ${e.message}\n`);
    }
  }
  return path;
}
