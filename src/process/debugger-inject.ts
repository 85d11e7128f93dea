// Injection through a debugger (gdb or lldb), for Pythons without PEP 768 remote execution (< 3.14) or where
// it is disabled. The debugger does as little as possible while the target is stopped:
//   1. map one fresh page (mmap is a plain system call: safe at any instruction),
//   2. write a short Python statement into it (memory writes, no code runs),
//   3. call Py_AddPendingCall(PyRun_SimpleString, page).
// Then it detaches. The interpreter's main thread runs the statement at its next eval-breaker check, with
// the GIL held: the same safe point CPython uses for signal handlers. Nothing runs Python at the arbitrary
// instruction where the debugger stopped the target.
//
// The statement only exec()s a script file placed where the target can read it, so what runs can be long.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TargetError } from '../errors.js';
import { closePrivateDir, openPrivateDir, readPrivateFile, writePrivateFile } from '../util/private-dir.js';
import { statFields } from './proc.js';

export type Debugger = 'gdb' | 'lldb';

export interface DebuggerInjection {
  readonly pid: number;
  readonly debugger: Debugger;
  /** A single Python statement (ASCII), at most 4000 bytes. */
  readonly statement: string;
  /** Kill the debugger (which makes it detach) after this long. */
  readonly timeoutMs: number;
  /** Executable to run (tests point it elsewhere); defaults to the debugger's name on PATH. */
  readonly executable?: string;
}

export interface DebuggerResult {
  readonly output: string;
  readonly commandLine: readonly string[];
}

const PAGE = 4096;

/** The statement as little-endian 8-byte words, NUL-terminated and padded. */
export function statementWords(statement: string): bigint[] {
  const bytes = new TextEncoder().encode(statement);
  if (bytes.includes(0)) throw new Error('the injected statement must not contain NUL');
  if (bytes.length + 1 > PAGE) throw new Error('the injected statement is too long');
  const padded = new Uint8Array(Math.ceil((bytes.length + 1) / 8) * 8);
  padded.set(bytes);
  const dv = new DataView(padded.buffer);
  const words: bigint[] = [];
  for (let i = 0; i < padded.length; i += 8) words.push(dv.getBigUint64(i, true));
  return words;
}

const MARK = 'MEMLENS_PENDING_CALL=';

export function gdbArgs(pid: number, statement: string): string[] {
  const cmds = [
    // Only the symbols we need: loading every library's symbols is slow on big processes.
    'set auto-solib-add off',
    'set unwindonsignal on',
    'set confirm off',
  ];
  const ex = [
    'sharedlibrary libc\\.',
    'sharedlibrary libpython',
    'set $memlens_buf = (char *) mmap(0, 4096, 3, 0x22, -1, 0)',
    ...statementWords(statement).map((w, i) => `set *(unsigned long long *)($memlens_buf + ${i * 8}) = 0x${w.toString(16)}`),
    `printf "${MARK}%d\\n", (int) Py_AddPendingCall((void *) PyRun_SimpleString, (void *) $memlens_buf)`,
    'detach',
    'quit',
  ];
  return ['-q', '-batch', '-nx', '-nw', ...cmds.flatMap((c) => ['-iex', c]), '-p', String(pid), ...ex.flatMap((c) => ['-ex', c])];
}

export function lldbArgs(pid: number, statement: string): string[] {
  const words = statementWords(statement);
  const cmds = [
    'expr -l c --unwind-on-error true --timeout 3000000 -- void *$memlens_buf = (void *) mmap(0, 4096, 3, 0x22, -1, 0)',
    ...words.map((w, i) => `memory write --size 8 '$memlens_buf + ${i * 8}' 0x${w.toString(16)}`),
    // Casts to function types: without debug info (Debian's static python3) lldb knows the names, not the types.
    'expr -l c -- void *$memlens_fn = (void *) (int (*)(const char *)) PyRun_SimpleString',
    'expr -l c --unwind-on-error true --timeout 3000000 -- (int) ((int (*)(void *, void *)) Py_AddPendingCall)($memlens_fn, $memlens_buf)',
    'process detach',
  ];
  return ['--batch', '--no-lldbinit', '-p', String(pid), ...cmds.flatMap((c) => ['-o', c])];
}

/**
 * Runs the debugger and returns its output once Py_AddPendingCall returned 0. Throws a TargetError naming
 * what went wrong (debugger missing, ptrace refused, symbols not found, the call failed).
 */
export async function injectWithDebugger(req: DebuggerInjection): Promise<DebuggerResult> {
  const exe = req.executable ?? req.debugger;
  const args = req.debugger === 'gdb' ? gdbArgs(req.pid, req.statement) : lldbArgs(req.pid, req.statement);
  const scratch = debuggerTmpdir();
  // Its own process group: a Ctrl-C meant for memlens must not reach the debugger in the middle of a call.
  const child = spawn(exe, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, TMPDIR: scratch } });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const outcome = await new Promise<{ code: number | null; error?: NodeJS.ErrnoException; timedOut: boolean }>((resolve) => {
    // SIGINT first: the debugger interrupts a call in progress and unwinds it (unwindonsignal / --unwind-on-error)
    // before it detaches; SIGKILL only if it does not go.
    const soft = setTimeout(() => child.kill('SIGINT'), req.timeoutMs);
    const hard = setTimeout(() => child.kill('SIGKILL'), req.timeoutMs + 5000);
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(soft);
      clearTimeout(hard);
      resolve({ code: null, error, timedOut: false });
    });
    child.on('exit', (code) => {
      clearTimeout(soft);
      clearTimeout(hard);
      resolve({ code, timedOut: code === null });
    });
  });
  rmSync(scratch, { recursive: true, force: true });
  const commandLine = [exe, ...args];
  if (outcome.error !== undefined) {
    if (outcome.error.code === 'ENOENT') {
      throw new TargetError(`${exe} is not installed`, { hint: `Install it (Debian/Ubuntu: apt-get install ${req.debugger}), or use another --method.` });
    }
    throw new TargetError(`cannot run ${exe}: ${outcome.error.message}`);
  }
  // gdb prints our marker; lldb prints the expression's value as "(int) $N = RESULT".
  const m = new RegExp(`${MARK}(-?\\d+)`).exec(output) ?? /Py_AddPendingCall\)\([^\n]*\n\(int\) \$\d+ = (-?\d+)/.exec(output);
  if (m !== null && m[1] === '0') return { output, commandLine };
  throw new TargetError(describeFailure(req, output, m?.[1], outcome.timedOut), { hint: failureHint(req, output) });
}

function describeFailure(req: DebuggerInjection, output: string, result: string | undefined, timedOut: boolean): string {
  const who = `${req.debugger} could not inject into PID ${req.pid}`;
  if (timedOut) return `${who}: it did not finish within ${req.timeoutMs / 1000}s`;
  if (/ptrace: Operation not permitted|attach failed|Operation not permitted/i.test(output)) return `${who}: ptrace was refused`;
  if (/No such process|does not exist|unable to find process/i.test(output)) return `${who}: no such process`;
  if (/Couldn't write extended state|Couldn't write registers/i.test(output)) {
    return `${who}: this gdb cannot call functions in the target on this CPU (it fails to restore the AVX/AMX register state)`;
  }
  if (/No symbol "?(Py_AddPendingCall|PyRun_SimpleString)/i.test(output) || /use of undeclared identifier '?(Py_AddPendingCall|PyRun_SimpleString)/i.test(output)) {
    return `${who}: the target has no Python C API symbols (is it CPython?)`;
  }
  if (result !== undefined) return `${who}: Py_AddPendingCall returned ${result} (the interpreter's queue of pending calls is full)`;
  const last =
    output
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(-1)[0] ?? '';
  return `${who}: ${last.slice(0, 300) || 'no output'}`;
}

function failureHint(req: DebuggerInjection, output: string): string {
  if (/ptrace|Operation not permitted|attach failed/i.test(output)) return "Run as the target's user or root; check kernel.yama.ptrace_scope; in a container, add CAP_SYS_PTRACE.";
  if (/extended state/i.test(output)) return 'Use --method lldb (or --method auto, which tries it next).';
  return `Run with -v to see the ${req.debugger} session, or try another --method.`;
}

export interface DebuggerProbe {
  readonly ok: boolean;
  readonly reason: string;
}

/**
 * A fresh private directory (0700, random name) for the debugger's temporary files: lldb otherwise makes
 * $TMPDIR/lldb, a fixed name in a shared directory that another user can create first.
 */
function debuggerTmpdir(): string {
  return mkdtempSync(join(tmpdir(), 'memlens-debugger-'));
}

/** The probe's answer, as kept in memlens's private directory. */
interface ProbeRecord {
  readonly key: string;
  readonly ok: boolean;
  readonly reason: string;
}

/**
 * Whether this debugger can call a function in a process on this machine, tried on a throwaway process
 * of memlens's own (a `sleep`), never on the target: gdb 13 on CPUs with AMX fails to restore the register
 * state after such a call and leaves a sleeping target's system call broken (it returns errno 514, and
 * Python raises OSError). The answer decides whether the debugger may go near the target, so it is kept
 * only in memlens's private directory (util/private-dir.ts), believed only if this user wrote it, and only
 * for the same debugger binary and kernel; without a private directory the debugger is probed every time.
 */
export async function probeDebugger(tool: Debugger, executable: string = tool, env: Readonly<Record<string, string | undefined>> = process.env): Promise<DebuggerProbe> {
  let path: string;
  try {
    path = execFileSync('sh', ['-c', 'command -v "$1"', 'sh', executable], { encoding: 'utf8' }).trim();
  } catch {
    return { ok: false, reason: `${executable} is not installed` };
  }
  const st = statSync(path);
  const key = `${path}:${st.dev}:${st.ino}:${st.mtimeMs}:${st.size}:${release()}`;
  const name = `debugger-probe-${tool}.json`;
  const dir = openPrivateDir(env);
  try {
    const text = dir !== undefined ? readPrivateFile(dir, name) : undefined;
    if (text !== undefined) {
      try {
        const cached = JSON.parse(text) as Partial<ProbeRecord>;
        if (cached.key === key && typeof cached.ok === 'boolean' && typeof cached.reason === 'string') return { ok: cached.ok, reason: cached.reason };
      } catch {
        // a damaged record is probed again
      }
    }
    const { probe, aboutMachine } = await runProbe(tool, executable);
    // Only an answer about the machine is kept: a call that worked, or the AMX failure. Any other failure (a
    // debugger killed by the timeout on a loaded machine, a test process gone) is probed again next time rather
    // than refusing every attach with this debugger until the binary or the kernel changes.
    if (dir !== undefined && aboutMachine) {
      try {
        writePrivateFile(dir, name, JSON.stringify({ key, ...probe } satisfies ProbeRecord));
      } catch {
        // not kept: probed again next time
      }
    }
    return probe;
  } finally {
    closePrivateDir(dir);
  }
}

/** What one probe found, and whether that holds for this machine (kept) or only for this try (probed again). */
interface ProbeOutcome {
  readonly probe: DebuggerProbe;
  readonly aboutMachine: boolean;
}

async function runProbe(tool: Debugger, executable: string): Promise<ProbeOutcome> {
  const scratch = debuggerTmpdir();
  let sleepPath: string;
  try {
    sleepPath = realpathSync(execFileSync('sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).trim());
  } catch {
    return { probe: { ok: false, reason: 'no `sleep` to probe the debugger on' }, aboutMachine: false };
  }
  const sleeper = spawn(sleepPath, ['120'], { stdio: 'ignore' });
  try {
    // Attached before the test process ran `sleep` (still node's forked child, or in the dynamic loader), the
    // debugger found no getpid to call, and the probe said the debugger fails: 50 ms after the spawn was not
    // always enough on a loaded machine (the suite beside a busy job, round thirty-two).
    await untilAsleepIn(sleeper.pid ?? 0, sleepPath, 500);
    const args =
      tool === 'gdb' ? ['-q', '-batch', '-nx', '-p', String(sleeper.pid), '-ex', 'print (int) getpid()'] : ['--batch', '--no-lldbinit', '-p', String(sleeper.pid), '-o', 'expr -l c -- (int) getpid()'];
    const out = await new Promise<string>((resolveOut) => {
      const child = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: scratch } });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.stderr.on('data', (d: Buffer) => (text += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('exit', () => {
        clearTimeout(timer);
        resolveOut(text);
      });
      child.on('error', () => {
        clearTimeout(timer);
        resolveOut(text);
      });
    });
    if (new RegExp(`= ${sleeper.pid}\\b`).test(out)) return { probe: { ok: true, reason: 'ok' }, aboutMachine: true };
    if (/extended state/i.test(out)) return { probe: { ok: false, reason: amxReason(tool) }, aboutMachine: true };
    return { probe: { ok: false, reason: `${tool} could not call a function in a test process: ${out.trim().split('\n').slice(-1)[0] ?? ''}` }, aboutMachine: false };
  } finally {
    sleeper.kill('SIGKILL');
    rmSync(scratch, { recursive: true, force: true });
  }
}

function amxReason(tool: Debugger): string {
  return `${tool} cannot call functions in a process on this machine (it fails to restore the AVX/AMX register state)`;
}

/**
 * Polls (every 10 ms, at most `polls` times) until process `pid` runs the executable `exe` and sleeps (state S in
 * /proc/PID/stat: for `sleep`, in its nanosleep, its libc loaded). True when it does; false after the last poll,
 * or when the process is gone.
 */
export async function untilAsleepIn(pid: number, exe: string, polls: number): Promise<boolean> {
  for (let i = 0; i < polls; i++) {
    let stat: string;
    let running: string;
    try {
      running = readlinkSync(`/proc/${pid}/exe`);
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch (e) {
      // Gone (ENOENT), or not readable yet (EACCES while the exec changes the process's credentials).
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      running = '';
      stat = '';
    }
    // The state is field 3: S, asleep (in sleep's nanosleep once it runs).
    if (running === exe && statFields(stat)?.[0] === 'S') return true;
    if (i + 1 < polls) await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}
