// Attaching to and detaching from a running Python process (docs/attach.md). This module checks the
// target, places the agent where the target can read it (through /proc/PID/root, so a process in another
// mount namespace works), makes the target run agent/python/memlens_attach.py at a safe point by one of the
// injection methods, and waits for the script's status line.

import { readFileSync, statSync, unlinkSync } from 'node:fs';
import { FileError, TargetError } from '../errors.js';
import { hasSessionFile, readSessionFile, unlinkSessionFile, writeSessionFile, writeSessionState, type Session } from './attach-dir.js';
import { injectWithDebugger, probeDebugger } from './debugger-inject.js';
import { isAlive, ProcessMemory, readStatus, sharesRoot } from './proc.js';
import { describeVersion, readPythonVersion, requirePythonRuntime, type PythonVersion } from './python-runtime.js';
import { cancelRemoteExec, requestRemoteExec } from './remote-exec.js';

export type AttachMethod = 'auto' | 'remote-exec' | 'gdb' | 'lldb';
export const ATTACH_METHODS: readonly AttachMethod[] = ['auto', 'remote-exec', 'gdb', 'lldb'];

export interface TargetInfo {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
  readonly version: PythonVersion;
  /** The target sees memlens's own file system (no container in between). */
  readonly sameRoot: boolean;
}

// The attach directory and the session's state: attach-dir.ts.
export {
  claimSession,
  createSession,
  findSessions,
  hasSessionFile,
  inheritedSession,
  openSessionFile,
  readSessionFile,
  readSessionState,
  releaseSession,
  removeSession,
  sessionPending,
  unlinkSessionFile,
  writeSessionState,
  type Session,
  type SessionState,
} from './attach-dir.js';

/** Checks everything that can be checked without touching the target. */
export function inspectTarget(pid: number): TargetInfo {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new TargetError(`'${pid}' is not a process id`);
  const status = readStatus(pid);
  if (status.state === 'Z') throw new TargetError(`PID ${pid} has exited (it is a zombie waiting for its parent)`);
  if (status.state === 'T' || status.state === 't') {
    // A stopped process cannot run the attach script, and a debugger could resume it behind the user's back.
    throw new TargetError(`PID ${pid} is stopped (SIGSTOP, Ctrl-Z or a debugger)`, { hint: `Resume it (kill -CONT ${pid}) and attach again.` });
  }
  // Reading its memory needs the same access ptrace would: fail here, with the reasons, not halfway.
  new ProcessMemory(pid, false).close();
  const runtime = requirePythonRuntime(pid);
  const mem = new ProcessMemory(pid, false);
  let version: PythonVersion | undefined;
  try {
    version = readPythonVersion(runtime, mem);
  } finally {
    mem.close();
  }
  if (version === undefined) throw new TargetError(`cannot tell which Python PID ${pid} runs (its image is ${runtime.imagePath})`);
  if (version.major !== 3 || version.minor < 9) {
    throw new TargetError(`PID ${pid} runs Python ${describeVersion(version)}; memlens supports CPython 3.9 and newer`);
  }
  const gid = Number(/^Gid:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '0');
  return { pid, uid: status.uid, gid, version, sameRoot: sharesRoot(pid) };
}

export interface AttachRequest {
  readonly action: 'attach' | 'detach' | 'census';
  readonly session: Session;
  readonly agentLibrary: string;
  /** The bootstrap's configuration (output or socket, options). */
  readonly config: Readonly<Record<string, unknown>>;
  readonly duration: number | undefined;
}

/**
 * The Python code a debugger hands to PyRun_SimpleString (and the remote-execution script): it runs the
 * attach script if the request is still there (memlens removes it when it gives up), without defining any
 * name in __main__. If the agent is already loaded (a detach, a second attach), its recording is turned off
 * for this thread first, so reading and compiling the script is not recorded as the program's memory.
 *
 * It never raises: PyRun_SimpleString, run as a pending call, returns -1 after an exception, and the
 * interpreter then raises SystemError ("error return without exception set") in whatever the program was
 * running (issue 11: a Ctrl-C removed the attach directory between the statement's check and its open()).
 * A KeyboardInterrupt that arrives while it runs is the program's: it is given back (interrupt_main).
 */
export function injectedStatement(targetDir: string): string {
  const script = JSON.stringify(`${targetDir}/memlens_attach.py`);
  const request = JSON.stringify(`${targetDir}/request.json`);
  const agent = '(lambda m: m.quiet(%s) if m is not None else None)(__import__("sys").modules.get("memlens_agent"))';
  const run =
    `exec(compile(open(${script}).read(), ${script}, "exec"), ` +
    `{"__name__": "__memlens_attach__", "MEMLENS_ATTACH": open(${request}).read()}) ` +
    `if __import__("os").path.exists(${request}) else None`;
  return [
    'try:',
    `    ${agent.replace('%s', 'True')}`,
    `    ${run}`,
    'except KeyboardInterrupt:',
    '    __import__("_thread").interrupt_main()',
    'except BaseException:',
    '    pass',
    'finally:',
    '    try:',
    `        ${agent.replace('%s', 'False')}`,
    '    except BaseException:',
    '        pass',
  ].join('\n');
}

export interface InjectOutcome {
  readonly method: Exclude<AttachMethod, 'auto'>;
  /** The attach script's status: "ok ..." or "error: ...", then lines "warning: ..." (memlens_attach.py). */
  readonly status: string;
  /** What each method tried said, for -v and for the error when all fail. */
  readonly log: readonly string[];
  /**
   * The script had taken the request when memlens gave up waiting (a timeout, a Ctrl-C): it was let finish,
   * and `status` is its outcome, which the caller must honour (a target that is tracking stays detachable).
   */
  readonly late?: boolean;
}

/** Puts the request, and the remote-execution script that runs it, in the attach directory. */
export function writeRequest(target: TargetInfo, req: AttachRequest): void {
  const { session } = req;
  const requestJson = JSON.stringify({ action: req.action, dir: session.targetDir, agent: `${session.targetDir}/libmemlens_agent.so`, config: req.config, duration: req.duration ?? null });
  // The directory is the target's user's by now: every file memlens puts there is new (attach-dir.ts).
  unlinkSessionFile(session, 'status');
  unlinkSessionFile(session, 'cancelled');
  unlinkSessionFile(session, 'request.taken');
  writeSessionFile(session, target, 'request.json', requestJson);
  // The remote-exec script: the same statement, as a file the interpreter runs.
  writeSessionFile(session, target, 'remote_exec.py', `${injectedStatement(session.targetDir)}\n`);
}

/** How long memlens waits for an attach script that has started (it waits for nothing in the target). */
const CLAIMED_WAIT_MS = 60_000;

/**
 * Withdraws the request: true if the target can no longer act on it (memlens removed it first), false if
 * the attach script already took it (renamed request.json to request.taken: agent/python/memlens_attach.py),
 * in which case it runs to its end. One rename against one unlink: exactly one of the two wins.
 */
export function withdrawRequest(target: TargetInfo, session: Session): boolean {
  writeSessionFile(session, target, 'cancelled', '');
  try {
    unlinkSync(`${session.hostDir}/request.json`);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return !hasSessionFile(session, 'request.taken');
    throw e;
  }
}

/** The first line of an attach script's status: "ok ..." or "error: ...". */
export function statusLine(status: string): string {
  return status.split('\n')[0] ?? '';
}

/** The warnings of an attach script's status (an interpreter the agent cannot read, for example). */
export function statusWarnings(status: string): string[] {
  return status
    .split('\n')
    .slice(1)
    .filter((l) => l.startsWith('warning: '))
    .map((l) => l.slice('warning: '.length));
}

export interface InjectOptions {
  readonly method: AttachMethod;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/**
 * Writes the request, makes the target run it with the first method that works, and waits for the status
 * line. Throws a TargetError if no method could inject, or if the target did not run Python in time.
 */
export async function runInTarget(target: TargetInfo, req: AttachRequest, opts: InjectOptions): Promise<InjectOutcome> {
  const { session } = req;
  writeRequest(target, req);
  const methods: Exclude<AttachMethod, 'auto'>[] = opts.method !== 'auto' ? [opts.method] : target.version.minor >= 14 ? ['remote-exec', 'gdb', 'lldb'] : ['gdb', 'lldb'];
  const log: string[] = [];
  for (const method of methods) {
    try {
      if (method === 'remote-exec') {
        requestRemoteExec({ pid: target.pid, scriptPath: `${session.targetDir}/remote_exec.py` });
      } else {
        // Never let a debugger that cannot call functions here near the target (it can break it).
        const probe = await probeDebugger(method);
        if (!probe.ok) throw new TargetError(probe.reason);
        const r = await injectWithDebugger({ pid: target.pid, debugger: method, statement: injectedStatement(session.targetDir), timeoutMs: Math.min(opts.timeoutMs, 60_000) });
        log.push(`${method}: ${r.commandLine.join(' ')}\n${r.output}`);
      }
    } catch (e) {
      if (!(e instanceof TargetError)) throw e;
      log.push(`${method}: ${e.message}`);
      if (!isAlive(target.pid)) throw new TargetError(`PID ${target.pid} exited during the attach`);
      continue;
    }
    let status = await waitForStatus(target.pid, session, opts);
    if (status === undefined) {
      // Make sure nothing runs later: the request is withdrawn, unless the attach script already took it.
      if (withdrawRequest(target, session)) {
        if (method === 'remote-exec') cancelRemoteExec(target.pid);
        if (!isAlive(target.pid)) throw new TargetError(`PID ${target.pid} exited during the attach`);
        if (opts.signal?.aborted === true) {
          throw new TargetError(`${req.action} cancelled; nothing was changed in PID ${target.pid}`, { exitCode: 130 });
        }
        throw new TargetError(`PID ${target.pid} did not run Python code within ${Math.round(opts.timeoutMs / 1000)}s, so memlens could not ${req.action}; nothing was changed in it`, {
          hint: 'The main thread may be sleeping, blocked in I/O or in a long C call (it runs the request the next time it runs Python). Try again, or raise --timeout.',
        });
      }
      // The script is running in the target: cancelling now would leave it half done, so its outcome is
      // waited for (it runs on the main thread and waits for nothing), and the caller goes on from it.
      status = await waitForStatus(target.pid, session, { method: opts.method, timeoutMs: CLAIMED_WAIT_MS });
      if (status === undefined) {
        throw new TargetError(`PID ${target.pid} started the ${req.action} script but did not finish it within ${CLAIMED_WAIT_MS / 1000}s`, {
          hint: `It may still finish: check with 'memlens detach ${target.pid}'.`,
        });
      }
      return { method, status, log, late: true };
    }
    return { method, status, log };
  }
  throw new TargetError(`could not inject into PID ${target.pid}: ${log.map((l) => l.split('\n')[0]).join('; ')}`, {
    hint: 'Run with -v for the details of each method.',
  });
}

/**
 * Attaches with the capture streamed into the session's socket (DIR/live.sock, which memlens listens on:
 * the live view, the push) rather than written to a file; `tracking`: the agent's config keys.
 */
export function attachStreaming(target: TargetInfo, session: Session, agentLibrary: string, tracking: Readonly<Record<string, unknown>>, opts: InjectOptions): Promise<InjectOutcome> {
  writeSessionState(session, { pid: target.pid, startedAt: Date.now(), targetOutput: undefined, userOutput: undefined, compress: false, duration: undefined });
  return runInTarget(target, { action: 'attach', session, agentLibrary, duration: undefined, config: { socket: `${session.targetDir}/live.sock`, ...tracking } }, opts);
}

async function waitForStatus(pid: number, session: Session, opts: InjectOptions): Promise<string | undefined> {
  const deadline = Date.now() + opts.timeoutMs;
  while (Date.now() < deadline) {
    if (opts.signal?.aborted === true) return undefined;
    let bytes: Buffer | undefined;
    try {
      // One line written by the attach script; anything else there is not believed (attach-dir.ts).
      bytes = readSessionFile(session, 'status', 64 * 1024);
    } catch (e) {
      if (!(e instanceof FileError)) throw e;
      throw new TargetError(`PID ${pid}: ${e.message}`);
    }
    if (bytes !== undefined) {
      // The target wrote it: it goes into memlens's messages without a control character or a direction
      // override that could rewrite the user's terminal. Its lines stay lines (a status line, then
      // "warning: ..." lines that memlens shows one by one).
      const text = bytes
        .toString('utf8')
        .trim()
        .split('\n')
        .map((l) => l.replace(/[\p{Cc}\p{Cf}]/gu, '\uFFFD'))
        .join('\n');
      if (text !== '') return text;
    }
    if (!isAlive(pid)) throw new TargetError(`PID ${pid} exited during the attach`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}

/** The size of a file, or -1. */
export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}
