// The checks of -o FILE, made before anything starts so that a path that cannot work fails at once, with
// one line that says what to do: `memlens run` writes the capture itself; with `memlens attach` the target
// writes it, as its own user, or memlens copies it out of a container.

import { type Stats, accessSync, constants, statSync } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FileError } from '../errors.js';
import type { TargetInfo } from '../process/attach.js';

/** A capture memlens writes itself (`memlens run -o`). */
export async function checkOutput(path: string, force: boolean): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch {
    st = undefined;
  }
  checkFile(path, st, force);
  const dir = dirname(path);
  try {
    await access(dir, constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileError(code === 'ENOENT' ? `${dir}: no such directory` : `${dir}: cannot write there (${code ?? String(e)})`, {
      hint: 'Give -o a file in a directory you can write to.',
    });
  }
}

/** A capture of `memlens attach -o`: refuses an output the target (which writes it) or memlens (which copies it) could not create. */
export function checkAttachOutput(target: TargetInfo, path: string, force: boolean): void {
  let st;
  try {
    st = statSync(path);
  } catch {
    st = undefined;
  }
  checkFile(path, st, force);
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

/** The file itself (`st`: its status, undefined when it does not exist): not a directory, and only overwritten with -f. */
function checkFile(path: string, st: Stats | undefined, force: boolean): void {
  if (st?.isDirectory() === true) throw new FileError(`${path} is a directory`, { hint: 'Give -o the path of the capture file to write.' });
  if (st !== undefined && !force) throw new FileError(`${path} exists`, { hint: 'Use -f to overwrite it, or give another -o FILE.' });
}
