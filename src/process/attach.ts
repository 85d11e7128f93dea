// Attaching to and detaching from a running Python process (docs/attach.md). This module checks the
// target, places the agent where the target can read it (through /proc/PID/root, so a process in another
// mount namespace works), makes the target run agent/python/memlens_attach.py at a safe point by one of the
// injection methods, and waits for the script's status line.

import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { TargetError } from '../errors.js';
import type { AgentFiles } from './agent-files.js';
import { injectWithDebugger, probeDebugger } from './debugger-inject.js';
import { hostPath, isAlive, ProcessMemory, readStatus, sharesRoot } from './proc.js';
import { describeVersion, readPythonVersion, requirePythonRuntime, type PythonVersion } from './python-runtime.js';
import { cancelRemoteExec, requestRemoteExec } from './remote-exec.js';

export type AttachMethod = 'auto' | 'remote-exec' | 'gdb' | 'lldb';
export const ATTACH_METHODS: readonly AttachMethod[] = ['auto', 'remote-exec', 'gdb', 'lldb'];

/** What the agent is asked to record; the same names as memlens run's options. */
export interface TrackingOptions {
  readonly native: boolean;
  readonly tracePythonAllocators: boolean;
  readonly followFork: boolean;
  readonly aggregate: boolean;
  readonly memoryIntervalMs: number;
}

export interface TargetInfo {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
  readonly version: PythonVersion;
  /** The target sees memlens's own file system (no container in between). */
  readonly sameRoot: boolean;
}

export interface Session {
  /** The attach directory as the target sees it, and as memlens does. */
  readonly targetDir: string;
  readonly hostDir: string;
}

/** Saved in the attach directory, so `memlens detach` knows what `memlens attach` did. */
export interface SessionState {
  readonly pid: number;
  readonly startedAt: number;
  /** Where the target writes the capture (its own path), or undefined for a live session. */
  readonly targetOutput: string | undefined;
  /** Where the user asked for it (memlens's path); differs from targetOutput across mount namespaces. */
  readonly userOutput: string | undefined;
  readonly compress: boolean;
  readonly duration: number | undefined;
}

const ATTACH_DIR_PREFIX = 'memlens-attach-';

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

/** The attach directories memlens left in the target's /tmp (normally one at most). */
export function findSessions(pid: number): Session[] {
  const tmp = hostPath(pid, '/tmp');
  let names: string[];
  try {
    names = readdirSync(tmp);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(`${ATTACH_DIR_PREFIX}${pid}-`) && existsSync(join(tmp, n, 'state.json')))
    .map((n) => ({ targetDir: `/tmp/${n}`, hostDir: join(tmp, n) }));
}

export function readSessionState(s: Session): SessionState {
  return JSON.parse(readFileSync(join(s.hostDir, 'state.json'), 'utf8')) as SessionState;
}

/** A fresh attach directory in the target's /tmp, readable (and for the status file, writable) by it. */
export function createSession(target: TargetInfo, files: AgentFiles): Session {
  const name = `${ATTACH_DIR_PREFIX}${target.pid}-${randomBytes(6).toString('hex')}`;
  const targetDir = `/tmp/${name}`;
  const hostDir = hostPath(target.pid, targetDir);
  try {
    mkdirSync(hostDir, { mode: 0o700 });
  } catch (e) {
    throw new TargetError(`cannot create ${targetDir} in the file system of PID ${target.pid}: ${(e as Error).message}`, {
      hint: 'memlens places its agent in the target\'s /tmp; it must exist and be writable by memlens.',
    });
  }
  const session = { targetDir, hostDir };
  try {
    copyFileSync(files.library, join(hostDir, 'libmemlens_agent.so'));
    for (const f of ['memlens_bootstrap.py', 'memlens_attach.py', 'memlens_census.py']) {
      const from = join(files.bootstrapDir, f);
      if (existsSync(from)) copyFileSync(from, join(hostDir, f));
    }
    // The target (perhaps another user) reads the files and writes its status into the directory.
    if (process.getuid?.() === 0) {
      chownSync(hostDir, target.uid, target.gid);
      for (const f of readdirSync(hostDir)) chownSync(join(hostDir, f), target.uid, target.gid);
    }
    chmodSync(hostDir, 0o755);
  } catch (e) {
    removeSession(session);
    throw new TargetError(`cannot place the agent in ${targetDir} for PID ${target.pid}: ${(e as Error).message}`);
  }
  return session;
}

export function writeSessionState(s: Session, state: SessionState): void {
  writeFileSync(join(s.hostDir, 'state.json'), JSON.stringify(state, null, 2));
}

export function removeSession(s: Session): void {
  if (s.hostDir === '.') {
    // The collector runs inside the directory: empty it, step out, remove it (reachable through '..' even
    // when the target, and /proc/PID/root with it, is gone).
    for (const f of readdirSync('.')) rmSync(f, { recursive: true, force: true });
    process.chdir('..');
    rmSync(basename(s.targetDir), { recursive: true, force: true });
    return;
  }
  rmSync(s.hostDir, { recursive: true, force: true });
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
 */
export function injectedStatement(targetDir: string): string {
  const script = JSON.stringify(`${targetDir}/memlens_attach.py`);
  const request = JSON.stringify(`${targetDir}/request.json`);
  const quiet =
    '(lambda b: b._agent.memlens_quiet(1) if getattr(b, "_agent", None) is not None else None)' +
    '(__import__("sys").modules.get("memlens_bootstrap"))';
  const run =
    `exec(compile(open(${script}).read(), ${script}, "exec"), ` +
    `{"__name__": "__memlens_attach__", "MEMLENS_ATTACH": open(${request}).read()}) ` +
    `if __import__("os").path.exists(${request}) else None`;
  return `${quiet}; ${run}`;
}

export interface InjectOutcome {
  readonly method: Exclude<AttachMethod, 'auto'>;
  /** The attach script's status: "ok ..." or "error: ...", then lines "warning: ..." (memlens_attach.py). */
  readonly status: string;
  /** What each method tried said, for -v and for the error when all fail. */
  readonly log: readonly string[];
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
  const requestJson = JSON.stringify({ action: req.action, dir: session.targetDir, agent: `${session.targetDir}/libmemlens_agent.so`, config: req.config, duration: req.duration ?? null });
  const statusFile = join(session.hostDir, 'status');
  rmSync(statusFile, { force: true });
  rmSync(join(session.hostDir, 'cancelled'), { force: true });
  writeFileSync(join(session.hostDir, 'request.json'), requestJson);
  // The remote-exec script: the same statement, as a file the interpreter runs.
  writeFileSync(join(session.hostDir, 'remote_exec.py'), `${injectedStatement(session.targetDir)}\n`);
  if (process.getuid?.() === 0) {
    for (const f of ['request.json', 'remote_exec.py']) chownSync(join(session.hostDir, f), target.uid, target.gid);
  }

  const methods: Exclude<AttachMethod, 'auto'>[] =
    opts.method !== 'auto' ? [opts.method] : target.version.minor >= 14 ? ['remote-exec', 'gdb', 'lldb'] : ['gdb', 'lldb'];
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
    const status = await waitForStatus(target.pid, statusFile, opts);
    if (status === undefined) {
      // Make sure nothing runs later: the statement checks for request.json, remote execution is withdrawn.
      writeFileSync(join(session.hostDir, 'cancelled'), '');
      rmSync(join(session.hostDir, 'request.json'), { force: true });
      if (method === 'remote-exec') cancelRemoteExec(target.pid);
      if (!isAlive(target.pid)) throw new TargetError(`PID ${target.pid} exited during the attach`);
      if (opts.signal?.aborted === true) {
        throw new TargetError(`${req.action} cancelled; nothing was changed in PID ${target.pid}`, { exitCode: 130 });
      }
      throw new TargetError(
        `PID ${target.pid} did not run Python code within ${Math.round(opts.timeoutMs / 1000)}s, so memlens could not ${req.action}; nothing was changed in it`,
        { hint: 'The main thread may be sleeping, blocked in I/O or in a long C call (it runs the request the next time it runs Python). Try again, or raise --timeout.' },
      );
    }
    return { method, status, log };
  }
  throw new TargetError(`could not inject into PID ${target.pid}: ${log.map((l) => l.split('\n')[0]).join('; ')}`, {
    hint: 'Run with -v for the details of each method.',
  });
}

async function waitForStatus(pid: number, statusFile: string, opts: InjectOptions): Promise<string | undefined> {
  const deadline = Date.now() + opts.timeoutMs;
  while (Date.now() < deadline) {
    if (opts.signal?.aborted === true) return undefined;
    if (existsSync(statusFile)) {
      const text = readFileSync(statusFile, 'utf8').trim();
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

/**
 * After tracking ended: brings the capture to where the user asked for it (copied out of the target's file
 * system when it lives in another mount namespace) and removes the attach directory. Returns the path of
 * the capture as memlens sees it.
 */
export function collectCapture(pid: number, session: Session, state: SessionState): string | undefined {
  if (state.targetOutput === undefined || state.userOutput === undefined) {
    removeSession(session);
    return undefined;
  }
  const inside = state.targetOutput.startsWith(`${session.targetDir}/`);
  if (inside) {
    const from = join(session.hostDir, state.targetOutput.slice(session.targetDir.length + 1));
    if (existsSync(from)) copyFileSync(from, state.userOutput);
  }
  removeSession(session);
  void pid;
  return existsSync(state.userOutput) ? state.userOutput : undefined;
}
