// memlens's private directory for what it keeps between runs (the debugger probe's answer, the state of an
// attach session, the token of a live stream): $XDG_RUNTIME_DIR/memlens, else $XDG_CACHE_HOME/memlens or
// ~/.cache/memlens. Never a fixed name in a shared directory such as /tmp, where another user can create it
// first. The directory is made 0700 and used only if it belongs to this user and no one else can write it;
// a file in it is believed only if this user wrote it (its owner, and no other user may write it).

import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fstatSync, mkdirSync, openSync, readSync, readdirSync, renameSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { atPath, closeQuietly, createFileAt, openDirectoryAt, openRegularFile, unlinkAt, writeAll } from './safe-fs.js';

export interface PrivateDir {
  /** For messages. */
  readonly path: string;
  /** The directory, open: every file operation goes through it. */
  readonly fd: number;
}

function euid(): number {
  return process.geteuid?.() ?? 0;
}

/** The candidate locations, best first. */
export function privateDirCandidates(env: Readonly<Record<string, string | undefined>>): string[] {
  const out: string[] = [];
  const runtime = env['XDG_RUNTIME_DIR'];
  if (runtime !== undefined && isAbsolute(runtime)) out.push(runtime);
  const cache = env['XDG_CACHE_HOME'];
  if (cache !== undefined && isAbsolute(cache)) out.push(cache);
  const home = env['HOME'];
  if (home !== undefined && isAbsolute(home)) out.push(join(home, '.cache'));
  return out;
}

function makeDirectory(path: string): void {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

/**
 * Opens memlens's private directory, or returns undefined when no candidate is safe: then memlens keeps
 * nothing between runs (or says what it needs). With `create` (memlens is about to write there) it makes
 * ~/.cache and its memlens directory if they are missing, never a home directory; a reader does not.
 */
export function openPrivateDir(env: Readonly<Record<string, string | undefined>> = process.env, options: { readonly create?: boolean } = {}): PrivateDir | undefined {
  const create = options.create ?? true;
  for (const base of privateDirCandidates(env)) {
    let baseFd: number;
    try {
      // ~/.cache may not exist yet ($XDG_RUNTIME_DIR does, or it is not used). The base may be reached
      // through links (it is this user's own setting); the directory memlens keeps in it may not.
      if (create && base !== env['XDG_RUNTIME_DIR']) makeDirectory(base);
      baseFd = openSync(base, constants.O_RDONLY | constants.O_DIRECTORY);
    } catch {
      continue;
    }
    // $XDG_RUNTIME_DIR is the user's own, private by definition; a shared one (a misconfigured /tmp) is not used.
    const baseSt = fstatSync(baseFd);
    if (base === env['XDG_RUNTIME_DIR'] && (baseSt.uid !== euid() || (baseSt.mode & 0o022) !== 0)) {
      closeQuietly(baseFd);
      continue;
    }
    try {
      if (create) makeDirectory(atPath(baseFd, 'memlens'));
      const fd = openDirectoryAt(baseFd, 'memlens', join(base, 'memlens'));
      const st = fstatSync(fd);
      if (st.uid !== euid()) {
        closeQuietly(fd);
        continue;
      }
      // Ours: make sure it is private (an older or hand-made one may not be).
      if ((st.mode & 0o077) !== 0) fchmodSync(fd, 0o700);
      return { path: join(base, 'memlens'), fd };
    } catch {
      continue;
    } finally {
      closeQuietly(baseFd);
    }
  }
  return undefined;
}

export function closePrivateDir(dir: PrivateDir | undefined): void {
  if (dir !== undefined) closeQuietly(dir.fd);
}

/**
 * Reads NAME from the private directory if this user wrote it: a regular file owned by this user that no
 * one else may write. Anything else is treated as absent (and a stranger's file is not believed).
 */
export function readPrivateFile(dir: PrivateDir, name: string, maxBytes = 1 << 20): string | undefined {
  let f;
  try {
    f = openRegularFile(atPath(dir.fd, name));
  } catch {
    return undefined;
  }
  if (f === undefined) return undefined;
  try {
    if (f.st.uid !== euid() || (f.st.mode & 0o022) !== 0 || f.st.size > maxBytes) return undefined;
    const buf = Buffer.alloc(f.st.size);
    let n = 0;
    while (n < buf.length) {
      const r = readSync(f.fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(f.fd);
  }
}

/** Replaces NAME in the private directory atomically (a new 0600 file renamed over it). */
export function writePrivateFile(dir: PrivateDir, name: string, text: string): void {
  const tmp = `.${name}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = createFileAt(dir.fd, tmp, 0o600);
  try {
    writeAll(fd, Buffer.from(text));
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(atPath(dir.fd, tmp), atPath(dir.fd, name));
  } catch (e) {
    unlinkAt(dir.fd, tmp);
    throw e;
  }
}

/** The names in the private directory that start with `prefix`. */
export function listPrivateFiles(dir: PrivateDir, prefix: string): string[] {
  try {
    return readdirSync(atPath(dir.fd)).filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}

export function removePrivateFile(dir: PrivateDir, name: string): void {
  try {
    unlinkAt(dir.fd, name);
  } catch {
    // a directory by that name is not ours to remove
  }
}
