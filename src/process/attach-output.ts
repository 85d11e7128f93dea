// Where an attach's capture is written, and bringing it back when tracking ends in the background.

import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FileError } from '../errors.js';
import { PACKAGE_ROOT } from './agent-files.js';
import type { Session, TargetInfo } from './attach.js';
import { nodeArgs } from '../cli/node-flags.js';

/** Refuses an output the target (which writes it) or memlens (which copies it) could not create. */
export function checkTargetCanWrite(target: TargetInfo, path: string, force: boolean): void {
  let st;
  try {
    st = statSync(path);
  } catch {
    st = undefined;
  }
  if (st?.isDirectory() === true) throw new FileError(`${path} is a directory`, { hint: 'Give -o the path of the capture file to write.' });
  if (st !== undefined && !force) throw new FileError(`${path} exists`, { hint: 'Use -f to overwrite it, or give another -o FILE.' });
  const dir = dirname(path);
  let d;
  try {
    d = statSync(dir);
  } catch {
    throw new FileError(`${dir}: no such directory`, { hint: 'Give -o a file in an existing directory.' });
  }
  if (!d.isDirectory()) throw new FileError(`${dir} is not a directory`);
  if (!target.sameRoot || target.uid === 0) {
    // memlens writes (or copies) the file itself.
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      throw new FileError(`${dir}: cannot write there`, { hint: 'Give -o a file in a directory you can write to.' });
    }
    return;
  }
  // The target writes the file, as its own user: the permission bits of the directory for that user.
  const bits = d.uid === target.uid ? (d.mode >> 6) & 7 : d.gid === target.gid ? (d.mode >> 3) & 7 : d.mode & 7;
  if ((bits & 3) !== 3) {
    throw new FileError(`PID ${target.pid} runs as uid ${target.uid}, which cannot create files in ${dir}`, {
      hint: `Give -o a file in a directory that user can write (for example /tmp), or run the target as another user.`,
    });
  }
}

/**
 * A small detached memlens process that waits for the end of --duration (or of the target), then finalizes
 * the capture (copy out of a container, compression). It outlives `memlens attach`.
 */
export function spawnCollector(pid: number, session: Session): void {
  // Its working directory is the attach directory: that keeps the directory reachable even after the
  // target ended and /proc/PID/root with it (a container's file system seen from the host).
  const child = spawn(process.execPath, nodeArgs(join(PACKAGE_ROOT, 'bin', 'memlens.js'), ['_collect', String(pid), session.targetDir], []), {
    detached: true,
    stdio: 'ignore',
    cwd: session.hostDir,
  });
  child.unref();
}
