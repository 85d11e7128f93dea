// The files memlens writes where the user says (-o): the capture of `memlens run` and `attach`, the HTML
// report, the exports, a saved census. Checked before anything starts, so that a path that cannot work fails
// at once with one line that says what to do; created so that no one else can read them or redirect them:
//   - the file is new (O_EXCL, mode 0600) and never written through a symbolic link at the path;
//   - -f replaces a regular file, and only a regular file: a device, a FIFO, a socket or a link at the path
//     is refused (as root, replacing /dev/full by a file, or blocking on a FIFO, would be the damage);
//   - a symbolic link on the way to the file is followed only if it belongs to root or to this user, and the
//     directory is held open from the check to the creation (util/safe-fs.ts).
// With `memlens attach` the target writes the capture as its own user, or memlens copies it out of a
// container.

import { type Stats, accessSync, closeSync, constants, fstatSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { FileError } from '../errors.js';
import type { TargetInfo } from '../process/attach.js';
import { atPath, closeQuietly, createFileAt, lstatAt, openTrustedDirectory, unlinkAt, writeAll } from '../util/safe-fs.js';

/** The directory of an output path, open, and the file's name in it. */
interface OutputPlace {
  readonly dirFd: number;
  readonly name: string;
  /** What is at the path now (a link is not followed), or undefined. */
  readonly st: Stats | undefined;
}

/** How a command words "the file exists" (its own option name for -f). */
export interface OutputOptions {
  readonly force: boolean;
  readonly exists?: ((path: string) => FileError) | undefined;
}

function place(given: string, o: OutputOptions): OutputPlace {
  const path = resolve(given);
  const name = basename(path);
  if (name === '' || name === '.' || name === '..' || path.endsWith('/')) throw new FileError(`${path} is a directory`, { hint: 'Give -o the path of the file to write.' });
  const dirFd = openTrustedDirectory(dirname(path));
  try {
    const st = lstatAt(dirFd, name);
    checkExisting(path, st, o);
    return { dirFd, name, st };
  } catch (e) {
    closeQuietly(dirFd);
    throw e;
  }
}

/** What may be at an output path: nothing, or with -f a regular file. */
function checkExisting(path: string, st: Stats | undefined, o: OutputOptions): void {
  if (st === undefined) return;
  if (st.isDirectory()) throw new FileError(`${path} is a directory`, { hint: 'Give -o the path of the file to write.' });
  if (st.isSymbolicLink()) {
    throw new FileError(`${path} is a symbolic link; memlens does not write through it`, { hint: 'Give -o the path of the file itself, or remove the link.' });
  }
  if (!st.isFile()) {
    throw new FileError(`${path} is not a regular file (a device, FIFO or socket); memlens replaces only regular files`, { hint: 'Give -o the path of a new file.' });
  }
  if (!o.force) throw o.exists?.(path) ?? new FileError(`${path} exists`, { hint: 'Use -f to overwrite it, or give another -o FILE.' });
}

/** Refuses early, before minutes of reading, an output path that cannot be written (createOutputFile's rules). */
export function checkOutputFile(path: string, o: OutputOptions): void {
  closeSync(place(path, o).dirFd);
}

/** A capture memlens's own program writes (`memlens run -o`): checked, not created. */
export function checkOutput(path: string, force: boolean): void {
  const p = place(path, { force });
  try {
    // The agent runs as this user and creates the file: the directory must let it.
    if (!canWrite(p.dirFd)) throw new FileError(`${dirname(path)}: cannot write there (EACCES)`, { hint: 'Give -o a file in a directory you can write to.' });
  } finally {
    closeSync(p.dirFd);
  }
}

function canWrite(dirFd: number): boolean {
  try {
    accessSync(atPath(dirFd), constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * With -f, removes the file at an output path before the program that writes it starts: a regular file,
 * checked again now (unlink removes a link rather than what it points to, so nothing else can be hit).
 */
export function removeForReplace(path: string): void {
  const p = place(path, { force: true });
  try {
    if (p.st !== undefined) unlinkAt(p.dirFd, p.name);
  } finally {
    closeSync(p.dirFd);
  }
}

/**
 * Creates an output file for memlens to write (mode 0600) and returns its descriptor; with `force`, a
 * regular file at the path is replaced. Throws a one-line FileError.
 */
export function createOutputFile(path: string, o: OutputOptions): number {
  const p = place(path, o);
  try {
    if (p.st !== undefined) unlinkAt(p.dirFd, p.name);
    try {
      return createFileAt(p.dirFd, p.name, 0o600);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new FileError(`${path} exists (it appeared while memlens wrote it)`, { hint: 'Give another -o FILE.' });
      const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ELOOP' ? 'a symbolic link appeared there' : (code ?? String(e));
      throw new FileError(`cannot write ${path}: ${why}`, { hint: 'Choose another path with -o.', cause: e });
    }
  } finally {
    closeSync(p.dirFd);
  }
}

/** Writes a whole output file (createOutputFile's rules). */
export function writeOutputFile(path: string, data: string | Uint8Array, o: OutputOptions): void {
  const fd = createOutputFile(path, o);
  try {
    writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data);
  } catch (e) {
    throw new FileError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  } finally {
    closeSync(fd);
  }
}

/** A capture of `memlens attach -o`: refuses an output the target (which writes it) or memlens (which copies it) could not create. */
export function checkAttachOutput(target: TargetInfo, path: string, force: boolean): void {
  const p = place(path, { force });
  let d: Stats;
  let writable: boolean;
  try {
    d = fstatSync(p.dirFd);
    writable = canWrite(p.dirFd);
  } finally {
    closeSync(p.dirFd);
  }
  const dir = dirname(path);
  if (!target.sameRoot || target.uid === 0) {
    // memlens writes (or copies) the file itself.
    if (!writable) throw new FileError(`${dir}: cannot write there`, { hint: 'Give -o a file in a directory you can write to.' });
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
