// File operations that another user cannot redirect. memlens often runs as root, and writes into places
// other users can reach: a shared directory, a directory of the user whose process it attaches to, the /tmp
// of a container. A path is looked up again at every use, so whoever can change a directory on it between
// two uses decides where the second goes; a symbolic link planted at the last component sends a write
// anywhere. So, here:
//   - a directory is opened once and named afterwards as /proc/self/fd/N: a lookup of /proc/self/fd/N/NAME
//     starts in that very directory (as openat(N, NAME) does), whatever happens to its path meanwhile;
//   - a file is created with O_EXCL and O_NOFOLLOW (never opened for writing if it exists, never through a
//     link), read with O_NOFOLLOW and O_NONBLOCK and only if it is a regular file of a bounded size (a FIFO
//     would block the reader, /dev/zero would never end);
//   - nothing is changed by path that another user could have replaced: ownership goes with fchown on the
//     descriptor memlens created, removal is unlink (which never follows a link) and never recursive.

import { closeSync, constants, fchownSync, fstatSync, lstatSync, mkdirSync, openSync, readSync, readdirSync, readlinkSync, rmdirSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import { FileError } from '../errors.js';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;

/** The path that names NAME inside the directory open as `dirFd` (or the directory itself). */
export function atPath(dirFd: number, name?: string): string {
  if (name !== undefined) checkName(name);
  return name === undefined ? `/proc/self/fd/${dirFd}` : `/proc/self/fd/${dirFd}/${name}`;
}

function checkName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) throw new Error(`'${name}' is not a file name`);
}

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

function euid(): number {
  return process.geteuid?.() ?? 0;
}

/** Closes a descriptor, ignoring errors (cleanup paths). */
export function closeQuietly(fd: number | undefined): void {
  if (fd === undefined) return;
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/**
 * Opens the directory NAME inside `dirFd` without following a symbolic link. `shown` names it in the
 * error (a symbolic link, not a directory).
 */
export function openDirectoryAt(dirFd: number, name: string, shown: string): number {
  try {
    return openSync(atPath(dirFd, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (e) {
    if (code(e) === 'ELOOP' || code(e) === 'ENOTDIR') {
      const link = lstatOrUndefined(atPath(dirFd, name))?.isSymbolicLink() === true;
      throw new FileError(link ? `${shown} is a symbolic link; memlens does not follow links there` : `${shown} is not a directory`, { cause: e });
    }
    throw e;
  }
}

/**
 * Opens the directory at `relPath` below the directory `rootFd`, one component at a time, refusing
 * symbolic links and '..': the path cannot leave `rootFd` (a container's root seen from the host, where a
 * link would otherwise be resolved in the host's file system). `shown(prefix)` names a component in errors.
 */
export function openDirectoryWithin(rootFd: number, relPath: string, shown: (prefix: string) => string): number {
  const parts = relPath.split('/').filter((p) => p !== '' && p !== '.');
  let fd = openSync(atPath(rootFd), O_RDONLY | O_DIRECTORY);
  try {
    let prefix = '';
    for (const part of parts) {
      prefix += `/${part}`;
      if (part === '..') throw new FileError(`${shown(prefix)}: '..' is not followed`);
      const next = openDirectoryAt(fd, part, shown(prefix));
      closeSync(fd);
      fd = next;
    }
    return fd;
  } catch (e) {
    closeQuietly(fd);
    throw e;
  }
}

/**
 * Creates the directory NAME in `dirFd` (mode 0700: only its owner gets in) and opens it, checking that
 * what was opened is the directory just made: owned by this user and private. Throws if NAME exists.
 */
export function makePrivateDirectoryAt(dirFd: number, name: string, shown: string): number {
  mkdirSync(atPath(dirFd, name), { mode: 0o700 });
  const fd = openDirectoryAt(dirFd, name, shown);
  const st = fstatSync(fd);
  if (st.uid !== euid() || (st.mode & 0o077) !== 0) {
    closeQuietly(fd);
    throw new FileError(`${shown} was replaced while memlens created it`);
  }
  return fd;
}

/** Creates NAME in `dirFd`, which must not exist (not even as a dangling link), for writing. */
export function createFileAt(dirFd: number, name: string, mode = 0o600): number {
  return openSync(atPath(dirFd, name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
}

/** Removes NAME from `dirFd` if it is there; a link is removed, not followed. */
export function unlinkAt(dirFd: number, name: string): void {
  try {
    unlinkSync(atPath(dirFd, name));
  } catch (e) {
    if (code(e) !== 'ENOENT') throw e;
  }
}

export interface NewFileOptions {
  readonly mode?: number;
  /** Give the file to this user (memlens as root, placing files for another user's process). */
  readonly owner?: { readonly uid: number; readonly gid: number } | undefined;
}

/** Writes NAME in `dirFd` as a new file: whatever had that name before is removed, never written through. */
export function writeNewFileAt(dirFd: number, name: string, data: string | Uint8Array, options: NewFileOptions = {}): void {
  unlinkAt(dirFd, name);
  const fd = createFileAt(dirFd, name, options.mode ?? 0o600);
  try {
    writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data);
    if (options.owner !== undefined) fchownSync(fd, options.owner.uid, options.owner.gid);
  } finally {
    closeSync(fd);
  }
}

/** Writes all of `data` at the descriptor's position. */
export function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

/**
 * Opens a file for reading without following a link at its last component and without blocking on a FIFO;
 * returns its descriptor and status, or undefined if it does not exist. Throws a FileError if it is not a
 * regular file (a link, a FIFO, a device, a directory).
 */
export function openRegularFile(path: string, shown: string = path): { fd: number; st: Stats } | undefined {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    if (code(e) === 'ENOENT') return undefined;
    if (code(e) === 'ELOOP') throw new FileError(`${shown} is a symbolic link; memlens does not follow links there`, { cause: e });
    throw e;
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeQuietly(fd);
    throw new FileError(`${shown} is not a regular file`);
  }
  return { fd, st };
}

/** Reads a regular file of at most `maxBytes` (openRegularFile's rules); undefined if it does not exist. */
export function readRegularFile(path: string, maxBytes: number, shown: string = path): Buffer | undefined {
  const f = openRegularFile(path, shown);
  if (f === undefined) return undefined;
  try {
    return readOpenFile(f.fd, maxBytes, shown);
  } finally {
    closeSync(f.fd);
  }
}

/** Reads an open file from its current position to its end, refusing more than `maxBytes`. */
export function readOpenFile(fd: number, maxBytes: number, shown: string): Buffer {
  const size = fstatSync(fd).size;
  if (size > maxBytes) throw new FileError(`${shown} is larger than memlens expects (${size} bytes, at most ${maxBytes})`);
  // The size may grow while we read; read at most one byte past the bound to notice.
  const buf = Buffer.alloc(Math.min(maxBytes + 1, Math.max(size + 1, 4096)));
  let n = 0;
  for (;;) {
    const r = readSync(fd, buf, n, buf.length - n, null);
    if (r === 0) break;
    n += r;
    if (n === buf.length) break;
  }
  if (n > maxBytes) throw new FileError(`${shown} is larger than memlens expects (more than ${maxBytes} bytes)`);
  return buf.subarray(0, n);
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** The status of NAME in `dirFd` itself (a link is not followed), or undefined. */
export function lstatAt(dirFd: number, name: string): Stats | undefined {
  return lstatOrUndefined(atPath(dirFd, name));
}

/**
 * Empties a directory memlens made but another user may have written into: each entry is unlinked (a link
 * goes, not what it points to); an empty subdirectory is removed; nothing is entered, so no link planted
 * inside can lead the removal elsewhere. Returns the names that could not be removed.
 */
export function emptyDirectory(dirFd: number): string[] {
  let names: string[];
  try {
    names = readdirSync(atPath(dirFd));
  } catch {
    return [];
  }
  const left: string[] = [];
  for (const name of names) {
    try {
      unlinkSync(atPath(dirFd, name));
    } catch (e) {
      try {
        if (code(e) !== 'EISDIR' && code(e) !== 'EPERM') throw e;
        rmdirSync(atPath(dirFd, name));
      } catch {
        left.push(name);
      }
    }
  }
  return left;
}

/** Removes the empty directory NAME from `parentFd` if it is still the one `expected` describes. */
export function removeDirectoryAt(parentFd: number, name: string, expected: { readonly dev: number; readonly ino: number }): void {
  const st = lstatAt(parentFd, name);
  if (st === undefined || !st.isDirectory() || st.dev !== expected.dev || st.ino !== expected.ino) return;
  try {
    rmdirSync(atPath(parentFd, name));
  } catch {
    // not empty (something the other user left), or gone already
  }
}

/**
 * Opens the directory at `path` for creating files in it, following a symbolic link on the way only if it
 * belongs to root or to this user (the kernel's fs.protected_symlinks rule, applied everywhere): another
 * user's link cannot send memlens's output elsewhere. The directory opened is checked to be the one the
 * walk arrived at, so a directory swapped meanwhile is noticed. A relative path is taken from the working directory.
 */
export function openTrustedDirectory(given: string): number {
  const path = resolve(given);
  const me = euid();
  const pending = path.split('/').filter((p) => p !== '' && p !== '.');
  let resolved = '/';
  let links = 0;
  let last: Stats = lstatSync('/');
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '..') {
      resolved = resolved === '/' ? '/' : resolved.slice(0, resolved.lastIndexOf('/')) || '/';
      last = lstatSync(resolved);
      continue;
    }
    const candidate = resolved === '/' ? `/${part}` : `${resolved}/${part}`;
    let st: Stats;
    try {
      st = lstatSync(candidate);
    } catch (e) {
      if (code(e) === 'ENOENT') throw new FileError(`${path}: no such directory (${candidate} does not exist)`, { hint: 'Give a file in an existing directory.', cause: e });
      throw new FileError(`${path}: cannot reach ${candidate} (${code(e) ?? String(e)})`, { cause: e });
    }
    if (st.isSymbolicLink()) {
      if (st.uid !== 0 && st.uid !== me) {
        throw new FileError(`${path}: ${candidate} is a symbolic link of another user (uid ${st.uid}); memlens does not write through it`, {
          hint: 'Give the real path of the directory.',
        });
      }
      if (++links > 40) throw new FileError(`${path}: too many levels of symbolic links`);
      const target = readlinkSync(candidate);
      if (target.startsWith('/')) resolved = '/';
      pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    if (!st.isDirectory()) throw new FileError(`${path}: ${candidate} is not a directory`);
    resolved = candidate;
    last = st;
  }
  const fd = openSync(resolved, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  const st = fstatSync(fd);
  if (st.dev !== last.dev || st.ino !== last.ino) {
    closeQuietly(fd);
    throw new FileError(`${path}: the directory changed while memlens opened it`, { hint: 'Another user may be tampering with it; give a directory only you can change.' });
  }
  return fd;
}
