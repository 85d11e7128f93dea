// The attach directory: where memlens puts the agent for a running process, how it makes, reads and removes
// it without letting anyone else in, and where it keeps what the session is (docs/security.md).
//
// The directory is /tmp/memlens-attach-PID-RANDOM in the target's own file system, reached from the host
// through /proc/PID/root. Another user, and above all the target itself (a process in a container is not
// trusted by the host), may try to make memlens write elsewhere. So:
//   - the target's /tmp is opened below /proc/PID/root one component at a time, refusing symbolic links
//     (a link inside a container would be resolved in the host's file system);
//   - the directory is made 0700 and held open; memlens names it only as /proc/self/fd/N afterwards;
//   - memlens places the files while the directory is still its own, then gives the directory to the
//     target's user (the agent writes its status, census and, across mount namespaces, the capture there).
//     From then on the target's user may change anything in it: memlens only creates new files there
//     (O_EXCL, O_NOFOLLOW), reads regular files of bounded size, and unlinks; it never follows a link,
//     never changes a file by path, never removes recursively;
//   - what memlens must be able to trust about the session (where the user wants the capture) is not in
//     that directory at all: it is kept in memlens's private directory (util/private-dir.ts), keyed by the
//     PID and the process's start time.
// Only the target's user and root can enter the directory; the live socket in it is 0600 and the target's.

import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchownSync, fstatSync, lchownSync, openSync, readFileSync, renameSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { FileError, TargetError } from '../errors.js';
import { closePrivateDir, listPrivateFiles, openPrivateDir, readPrivateFile, removePrivateFile, writePrivateFile, type PrivateDir } from '../util/private-dir.js';
import {
  atPath,
  closeQuietly,
  emptyDirectory,
  lstatAt,
  makePrivateDirectoryAt,
  openDirectoryAt,
  openDirectoryWithin,
  openRegularFile,
  readOpenFile,
  removeDirectoryAt,
  unlinkAt,
  writeNewFileAt,
} from '../util/safe-fs.js';
import type { AgentFiles } from './agent-files.js';
import { isAlive, statFields } from './proc.js';

export const ATTACH_DIR_PREFIX = 'memlens-attach-';
const STALE_STATE_MS = 3600_000;

/** Who the directory is for: the target process and its user. */
export interface DirTarget {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

export interface Session {
  /** The attach directory as the target sees it: /tmp/memlens-attach-PID-RANDOM. */
  readonly targetDir: string;
  /** The same directory for memlens: /proc/self/fd/N of the directory it holds open, which no one can redirect. */
  readonly hostDir: string;
  /** The directory, and the target's /tmp it is in, open. */
  readonly fd: number;
  readonly tmpFd: number;
  readonly name: string;
  readonly dev: number;
  readonly ino: number;
  /** The session's key in memlens's private directory: PID, start time and the directory's random part. */
  readonly key: string;
}

/** Saved in memlens's private directory, so `memlens detach` and the collector know what `memlens attach` did. */
export interface SessionState {
  readonly pid: number;
  readonly startedAt: number;
  /** Where the target writes the capture (its own path), or undefined for a live session. */
  readonly targetOutput: string | undefined;
  /** Where the user asked for it (memlens's path); differs from targetOutput across mount namespaces. */
  readonly userOutput: string | undefined;
  readonly compress: boolean;
  readonly duration: number | undefined;
  /** -f was given: a regular file at userOutput may be replaced. */
  readonly force?: boolean | undefined;
}

interface StoredState extends SessionState {
  readonly dir: string;
  readonly dev: number;
  readonly ino: number;
}

/** The process's start time (clock ticks since boot, /proc/PID/stat field 22): a PID with it names one process. */
export function processStartTime(pid: number): string | undefined {
  try {
    return statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[22 - 3];
  } catch {
    return undefined;
  }
}

/** The keys of PID's sessions start with this (the process, not only its PID: PIDs are reused). */
function processKey(pid: number): string {
  return `${pid}-${processStartTime(pid) ?? '0'}`;
}

/** The target's /tmp, opened below its root without following a link. */
function openTargetTmp(pid: number): number {
  let rootFd: number;
  try {
    rootFd = openSync(`/proc/${pid}/root`, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (e) {
    throw new TargetError(`cannot reach the file system of PID ${pid}: ${(e as Error).message}`);
  }
  try {
    return openDirectoryWithin(rootFd, 'tmp', (p) => `${p} in the file system of PID ${pid}`);
  } catch (e) {
    if (!(e instanceof FileError)) throw e;
    throw new TargetError(`cannot place the agent in PID ${pid}: ${e.message}`, { hint: "memlens places its agent in the target's /tmp, which must be a real directory." });
  } finally {
    closeSync(rootFd);
  }
}

function ownerFor(target: DirTarget): { uid: number; gid: number } | undefined {
  return process.geteuid?.() === 0 && target.uid !== 0 ? { uid: target.uid, gid: target.gid } : undefined;
}

export interface CreateSessionOptions {
  /** Listen on DIR/live.sock (the live view): made while the directory is still memlens's, 0600, the target's. */
  readonly listen?: Server | undefined;
}

/** A fresh attach directory in the target's /tmp, holding the agent, readable and writable by the target's user. */
export function createSession(target: DirTarget, files: AgentFiles, options: CreateSessionOptions = {}): Session {
  const random = randomBytes(8).toString('hex');
  const name = `${ATTACH_DIR_PREFIX}${target.pid}-${random}`;
  const targetDir = `/tmp/${name}`;
  const tmpFd = openTargetTmp(target.pid);
  let fd: number;
  try {
    fd = makePrivateDirectoryAt(tmpFd, name, targetDir);
  } catch (e) {
    closeQuietly(tmpFd);
    throw new TargetError(`cannot create ${targetDir} in the file system of PID ${target.pid}: ${(e as Error).message}`, {
      hint: "memlens places its agent in the target's /tmp; it must exist and be writable by memlens.",
    });
  }
  const st = fstatSync(fd);
  const session: Session = { targetDir, hostDir: atPath(fd), fd, tmpFd, name, dev: st.dev, ino: st.ino, key: `${processKey(target.pid)}-${random}` };
  const owner = ownerFor(target);
  try {
    writeNewFileAt(fd, 'libmemlens_agent.so', readFileSync(files.library), { mode: 0o700, owner });
    for (const f of ['memlens_agent.py', 'memlens_attach.py', 'memlens_census.py']) {
      let text: Buffer;
      try {
        text = readFileSync(join(files.bootstrapDir, f));
      } catch {
        continue;
      }
      writeNewFileAt(fd, f, text, { owner });
    }
    if (options.listen !== undefined) listenIn(session, options.listen, owner);
    // Now the target's user may write into it (its status, a census, the capture across namespaces).
    if (owner !== undefined) fchownSync(fd, owner.uid, owner.gid);
  } catch (e) {
    removeSession(session);
    throw new TargetError(`cannot place the agent in ${targetDir} for PID ${target.pid}: ${(e as Error).message}`);
  }
  return session;
}

/** Binds DIR/live.sock: mode 0600 (the umask at bind decides it), then given to the target's user. */
function listenIn(session: Session, server: Server, owner: { uid: number; gid: number } | undefined): void {
  const path = atPath(session.fd, 'live.sock');
  const old = process.umask(0o177);
  try {
    // A Unix socket is bound within listen() itself; failures come as an 'error' event, seen below as no socket.
    server.listen(path);
  } finally {
    process.umask(old);
  }
  if (lstatAt(session.fd, 'live.sock')?.isSocket() !== true) throw new Error('cannot listen on live.sock');
  // The directory is still memlens's alone: nothing can have replaced the socket.
  if (owner !== undefined) lchownSync(path, owner.uid, owner.gid);
}

/**
 * Opens a file the target wrote in the attach directory for reading, or undefined if it is not there: a
 * regular file (not a link, a FIFO or a device), of the directory's owner or memlens's user, with no other
 * name (a hard link the target made to a file it could not read itself is refused).
 */
export function openSessionFile(s: Session, name: string): { fd: number; size: number } | undefined {
  const shown = `${s.targetDir}/${name}`;
  const f = openRegularFile(atPath(s.fd, name), shown);
  if (f === undefined) return undefined;
  const owner = fstatSync(s.fd).uid;
  if (f.st.nlink !== 1 || (f.st.uid !== owner && f.st.uid !== process.geteuid?.())) {
    closeQuietly(f.fd);
    throw new FileError(`${shown} is not a file the target wrote (owner uid ${f.st.uid}, ${f.st.nlink} links)`);
  }
  return { fd: f.fd, size: f.st.size };
}

/** Reads a file the target wrote in the attach directory (openSessionFile's rules), at most `maxBytes`. */
export function readSessionFile(s: Session, name: string, maxBytes: number): Buffer | undefined {
  const f = openSessionFile(s, name);
  if (f === undefined) return undefined;
  try {
    return readOpenFile(f.fd, maxBytes, `${s.targetDir}/${name}`);
  } finally {
    closeSync(f.fd);
  }
}

/** Writes a file memlens gives the target (a request, a marker): always a new file, the target's. */
export function writeSessionFile(s: Session, target: DirTarget, name: string, data: string): void {
  writeNewFileAt(s.fd, name, data, { owner: ownerFor(target) });
}

/** Removes a file from the attach directory (unlink: a link goes, not what it points to). */
export function unlinkSessionFile(s: Session, name: string): void {
  unlinkAt(s.fd, name);
}

export function hasSessionFile(s: Session, name: string): boolean {
  return lstatAt(s.fd, name) !== undefined;
}

/** Removes the attach directory: its entries unlinked, never entered; the directory if it is still ours. */
export function removeSession(s: Session): void {
  emptyDirectory(s.fd);
  removeDirectoryAt(s.tmpFd, s.name, s);
  closeQuietly(s.fd);
  closeQuietly(s.tmpFd);
  const dir = openPrivateDir(process.env, { create: false });
  if (dir !== undefined) {
    removePrivateFile(dir, stateName(s.key));
    removePrivateFile(dir, claimedName(s.key));
    closePrivateDir(dir);
  }
}

/** Lets go of the session's directories without touching them (another memlens finalizes it). */
export function releaseSession(s: Session): void {
  closeQuietly(s.fd);
  closeQuietly(s.tmpFd);
}

function stateName(key: string): string {
  return `attach-${key}.json`;
}

function claimedName(key: string): string {
  return `attach-${key}.claimed`;
}

function needPrivateDir(create = true): PrivateDir {
  const dir = openPrivateDir(process.env, { create });
  if (dir === undefined) {
    throw new TargetError('memlens has no private directory to keep the session in', {
      hint: 'Set HOME (memlens uses ~/.cache/memlens) or XDG_RUNTIME_DIR to a directory of yours.',
    });
  }
  return dir;
}

/** Keeps the session's state in memlens's private directory (and forgets sessions of processes that are gone). */
export function writeSessionState(s: Session, state: SessionState): void {
  const dir = needPrivateDir();
  try {
    // A state whose process is gone, left for more than an hour (a collector killed with it): a collector
    // still finalizing a target that just ended must find its state.
    for (const n of listPrivateFiles(dir, 'attach-')) {
      const m = /^attach-(\d+)-(\d+)-[0-9a-f]+\.(json|claimed)$/.exec(n);
      if (m === null || (isAlive(Number(m[1])) && processStartTime(Number(m[1])) === m[2])) continue;
      const age = Date.now() - (lstatAt(dir.fd, n)?.mtimeMs ?? Date.now());
      if (age > STALE_STATE_MS) removePrivateFile(dir, n);
    }
    const stored: StoredState = { ...state, dir: s.name, dev: s.dev, ino: s.ino };
    writePrivateFile(dir, stateName(s.key), JSON.stringify(stored, null, 2));
  } finally {
    closePrivateDir(dir);
  }
}

function readStored(dir: PrivateDir, name: string): StoredState | undefined {
  const text = readPrivateFile(dir, name);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as StoredState;
  } catch {
    return undefined;
  }
}

export function readSessionState(s: Session): SessionState {
  const dir = needPrivateDir(false);
  try {
    const state = readStored(dir, stateName(s.key)) ?? readStored(dir, claimedName(s.key));
    if (state === undefined) throw new TargetError(`the state of the attach session ${s.targetDir} is gone`);
    return state;
  } finally {
    closePrivateDir(dir);
  }
}

/** Whether the session has not been finalized (its state is still there, unclaimed). */
export function sessionPending(s: Session): boolean {
  const dir = openPrivateDir(process.env, { create: false });
  if (dir === undefined) return false;
  try {
    return readPrivateFile(dir, stateName(s.key)) !== undefined;
  } finally {
    closePrivateDir(dir);
  }
}

/**
 * Takes the session for finalizing: true for exactly one of `memlens detach` and the collector, whichever
 * comes first (a rename in the private directory).
 */
export function claimSession(s: Session): boolean {
  const dir = openPrivateDir(process.env, { create: false });
  if (dir === undefined) return false;
  try {
    renameSync(atPath(dir.fd, stateName(s.key)), atPath(dir.fd, claimedName(s.key)));
    return true;
  } catch {
    return false;
  } finally {
    closePrivateDir(dir);
  }
}

/**
 * The sessions this user's `memlens attach` started in PID, oldest first (normally one at most): each state
 * says which directory, and the directory found must be that one.
 */
export function findSessions(pid: number): Session[] {
  const prefix = `attach-${processKey(pid)}-`;
  const dir = openPrivateDir(process.env, { create: false });
  if (dir === undefined) return [];
  const found: { key: string; state: StoredState }[] = [];
  try {
    for (const n of listPrivateFiles(dir, prefix)) {
      if (!n.endsWith('.json')) continue;
      const state = readStored(dir, n);
      if (state !== undefined && typeof state.dir === 'string' && state.dir.startsWith(`${ATTACH_DIR_PREFIX}${pid}-`)) found.push({ key: n.slice('attach-'.length, -'.json'.length), state });
    }
  } finally {
    closePrivateDir(dir);
  }
  found.sort((a, b) => a.state.startedAt - b.state.startedAt);
  const sessions: Session[] = [];
  for (const { key, state } of found) {
    let tmpFd: number;
    try {
      tmpFd = openTargetTmp(pid);
    } catch {
      break;
    }
    try {
      sessions.push(openSession(tmpFd, state.dir, key, state));
    } catch {
      closeQuietly(tmpFd);
    }
  }
  return sessions;
}

/**
 * A session from the directories a collector inherited (the target's /tmp and the attach directory, open):
 * they stay reachable after the target, and /proc/PID/root with it, is gone.
 */
export function inheritedSession(tmpFd: number, dirFd: number, name: string, key: string): Session {
  const dir = needPrivateDir(false);
  let state: StoredState | undefined;
  try {
    state = readStored(dir, stateName(key));
  } finally {
    closePrivateDir(dir);
  }
  const st = fstatSync(dirFd);
  if (state === undefined || state.dir !== name || st.dev !== state.dev || st.ino !== state.ino) throw new TargetError(`the attach session ${name} is not the one memlens started`);
  return { targetDir: `/tmp/${name}`, hostDir: atPath(dirFd), fd: dirFd, tmpFd, name, dev: st.dev, ino: st.ino, key };
}

function openSession(tmpFd: number, name: string, key: string, state: StoredState): Session {
  const fd = openDirectoryAt(tmpFd, name, `/tmp/${name}`);
  const st = fstatSync(fd);
  if (st.dev !== state.dev || st.ino !== state.ino) {
    closeQuietly(fd);
    throw new TargetError(`/tmp/${name} is not the directory memlens made`);
  }
  return { targetDir: `/tmp/${name}`, hostDir: atPath(fd), fd, tmpFd, name, dev: st.dev, ino: st.ino, key };
}
