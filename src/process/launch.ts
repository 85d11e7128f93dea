// Starting the target Python with the agent's bootstrap, and waiting for it as a shell would: the
// program keeps the user's stdin, stdout and stderr; Ctrl-C reaches it from the terminal (memlens must
// not die first); SIGTERM, SIGHUP and SIGQUIT sent to memlens are passed on. A signal reaches the program
// once, whoever sends it (issue 11: a SIGINT sent to the process group reached it twice, once from the
// sender and once passed on, and interrupted the program's own shutdown): see processGroupOf.

import { spawn, type ChildProcess } from 'node:child_process';
import type { Duplex, Readable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { TargetError } from '../errors.js';
import type { AgentFiles } from './agent-files.js';
import { statFields } from './proc.js';
import { checkAnswer, versionCheck, type RunTarget } from './python.js';

/** The environment variable the bootstrap reads its configuration from (and removes). */
export const BOOTSTRAP_ENV = 'MEMLENS_BOOTSTRAP';

/** The bootstrap's configuration (agent/python/memlens_bootstrap.py reads it). */
export interface BootstrapConfig {
  readonly agent: string;
  /** The capture file; `{pid}` is replaced by the target's process id. */
  readonly output?: string;
  /** An inherited descriptor instead of a file (the live view). */
  readonly fd?: number;
  readonly overwrite?: boolean;
  /** NEAR_OOM marker above this share of the cgroup limit, per mille. */
  readonly near_oom_permille?: number;
  /** Censuses of live objects as memory grows (--census-at-peak). */
  readonly census_growth?: boolean;
  readonly native?: boolean;
  readonly trace_python_allocators?: boolean;
  readonly follow_fork?: boolean;
  readonly aggregate?: boolean;
  readonly memory_interval_ms?: number;
  /**
   * How old the last snapshot must be, ms, before the program's allocating threads take one (default: twice
   * the interval, at least 20 ms; docs/agent.md "Snapshots"); not a `memlens run` option: the tests'.
   */
  readonly snapshot_stale_ms?: number;
  /** Per-thread bound of the stack tables (default 2^18 nodes); not a `memlens run` option. */
  readonly max_stack_nodes?: number;
  /** Sampling (docs/sampling.md): the mean bytes between samples, and the size from which all are recorded. */
  readonly sample_rate?: number;
  readonly sample_exact?: number;
  /** Seeds the agent's sampling generators (tests: the same program and seed give the same capture). */
  readonly sample_seed?: number;
  /**
   * The descriptor the bootstrap answers its checks on (python.ts, checkAnswer), then waits on for the
   * word to go; the launcher sets it. Without it the bootstrap says what is wrong on stderr.
   */
  readonly status_fd?: number;
}

/**
 * The command line that runs `target` under the bootstrap with `python`; `statusFd`: where the interpreter's
 * check answers (BootstrapConfig.status_fd).
 */
export function bootstrapArgs(files: AgentFiles, target: RunTarget, statusFd?: number): string[] {
  // The interpreter is checked first (python.ts, versionCheck). The bootstrap is imported without writing
  // __pycache__ next to it (memlens's directory may be read-only); the program's own setting is put back
  // before it runs.
  const loader =
    `${versionCheck(statusFd)}\n` +
    `b = sys.dont_write_bytecode; sys.dont_write_bytecode = True; sys.path.insert(0, ${JSON.stringify(files.bootstrapDir)}); ` +
    'import memlens_bootstrap; sys.dont_write_bytecode = b; del b; memlens_bootstrap.main()';
  const first = target.kind === 'script' ? target.path : target.kind === 'module' ? target.module : target.code;
  return ['-c', loader, first, ...target.args];
}

export interface ChildExit {
  /** Exit status, or null when a signal ended it. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** process.hrtime.bigint() when memlens saw the end (CLOCK_MONOTONIC on Linux, as the agent's clock). */
  readonly endMonoNs: bigint;
  /** The first signal memlens itself received while the program ran (Ctrl-C: SIGINT), if any. */
  readonly memlensSignal: NodeJS.Signals | null;
}

export interface Launched {
  readonly pid: number;
  readonly exited: Promise<ChildExit>;
  /** The capture's bytes as the agent writes them (LaunchOptions.pipes.capture). */
  readonly capture?: Readable | undefined;
  /** The program's standard output and error (LaunchOptions.pipes.output). */
  readonly stdout?: Readable | undefined;
  readonly stderr?: Readable | undefined;
}

const FORWARDED: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** Signals a terminal sends to its whole foreground process group. */
const TERMINAL_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGQUIT', 'SIGHUP'];

/**
 * Where the program runs: in memlens's process group when memlens is the foreground job of a terminal (the
 * terminal's Ctrl-C and Ctrl-Z reach both, as they would reach the program alone; memlens passes on only
 * what a terminal does not send), in a group of its own otherwise (a pipe, a service, `timeout`, a
 * background job): then nothing sent to memlens's group reaches it directly, and memlens passes on every
 * signal it gets, so each reaches the program exactly once.
 */
export function processGroupOf(stat: string = readSelfStat()): 'shared' | 'own' {
  // pgrp is field 5, tpgid (the terminal's foreground group) field 8.
  const fields = statFields(stat) ?? [];
  const pgrp = Number(fields[5 - 3]);
  const tpgid = Number(fields[8 - 3]);
  return tpgid > 0 && tpgid === pgrp ? 'shared' : 'own';
}

function readSelfStat(): string {
  try {
    return readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return '';
  }
}

export interface LaunchOptions {
  readonly python: string;
  readonly files: AgentFiles;
  readonly target: RunTarget;
  readonly config: BootstrapConfig;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * For the live view: `capture` makes the agent write into a pipe that Launched.capture reads (on
   * descriptor `config.fd`, 3 unless given); `output` pipes the program's stdout and stderr to
   * Launched.stdout/stderr and gives it no stdin (the terminal belongs to the view).
   */
  readonly pipes?: { readonly capture?: boolean; readonly output?: boolean } | undefined;
  /** A command the interpreter's command line is appended to (joining a cgroup, setting a limit). */
  readonly wrapper?: readonly string[];
  /**
   * Run once the interpreter and the program passed their checks, before the agent starts (and so before
   * the capture file is created): `memlens run -f` removes the old capture here, so that a program that
   * fails its checks leaves it in place.
   */
  readonly beforeStart?: (() => void) | undefined;
}

/**
 * Spawns the target and forwards signals until it ends. Resolves once the interpreter and the program
 * passed their checks and the agent is about to start; rejects with a TargetError if the child could not
 * be started or failed its checks (python.ts, checkAnswer), once it has ended.
 */
export function launch(o: LaunchOptions): Promise<Launched> {
  const pipeFd = o.pipes?.capture === true ? (o.config.fd ?? 3) : undefined;
  const stdio: ('inherit' | 'pipe' | 'ignore' | number)[] = o.pipes?.output === true ? ['ignore', 'pipe', 'pipe'] : ['inherit', 'inherit', 'inherit'];
  if (pipeFd !== undefined) {
    while (stdio.length < pipeFd) stdio.push('ignore');
    stdio[pipeFd] = 'pipe';
  } else if (o.config.fd !== undefined) {
    while (stdio.length < o.config.fd) stdio.push('ignore');
    stdio[o.config.fd] = o.config.fd;
  }
  // The status descriptor: the first one after those above (a socket pair: the child answers its checks on
  // it, then waits for the word to go).
  const statusFd = stdio.length;
  stdio.push('pipe');
  const config: BootstrapConfig = { ...o.config, ...(pipeFd !== undefined ? { fd: pipeFd } : {}), status_fd: statusFd };
  const env: Record<string, string | undefined> = { ...o.env, [BOOTSTRAP_ENV]: JSON.stringify({ run: o.target.kind, ...config }) };
  const group = processGroupOf();
  return new Promise((resolveP, rejectP) => {
    let child: ChildProcess;
    try {
      const command = o.wrapper !== undefined && o.wrapper.length > 0 ? [...o.wrapper, o.python] : [o.python];
      // `detached`: a session and process group of its own (setsid, before the program starts).
      child = spawn(command[0] ?? o.python, [...command.slice(1), ...bootstrapArgs(o.files, o.target, statusFd)], { cwd: o.cwd, env, stdio, detached: group === 'own' });
    } catch (e) {
      rejectP(new TargetError(`cannot start ${o.python}: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
      return;
    }
    const handlers = new Map<NodeJS.Signals, () => void>();
    // The EXIT record says memlens was interrupted (or told to stop): the program's end follows from it.
    let memlensSignal: NodeJS.Signals | null = null;
    const seen = (sig: NodeJS.Signals): void => {
      memlensSignal ??= sig;
    };
    const forward = (sig: NodeJS.Signals) => () => {
      seen(sig);
      child.kill(sig);
    };
    for (const sig of FORWARDED) handlers.set(sig, forward(sig));
    if (group === 'shared') {
      // The terminal sends Ctrl-C, Ctrl-\ and its hangup to the whole foreground process group, the program
      // included: memlens only has to survive them (and the EXIT record says memlens was interrupted).
      for (const sig of TERMINAL_SIGNALS) handlers.set(sig, () => seen(sig));
    } else {
      handlers.set('SIGINT', forward('SIGINT'));
    }
    const exited = new Promise<ChildExit>((resolveExit) => {
      child.on('exit', (code, signal) => {
        const endMonoNs = process.hrtime.bigint();
        for (const [sig, h] of handlers) process.removeListener(sig, h);
        resolveExit({ code, signal, endMonoNs, memlensSignal });
      });
    });
    child.once('error', (e) => {
      for (const [sig, h] of handlers) process.removeListener(sig, h);
      rejectP(new TargetError(`cannot start ${o.python}: ${e.message}`, { cause: e }));
    });
    child.once('spawn', () => {
      for (const [sig, h] of handlers) process.on(sig, h);
      const status = child.stdio[statusFd] as Duplex;
      let answer = '';
      let answered = false;
      // The answer is one JSON object; the bootstrap then waits for one byte, and closes its end once it has it.
      const onAnswer = (): void => {
        if (answered) return;
        answered = true;
        status.removeListener('data', onData);
        // checkAnswer's TargetError, said once the child has ended, with its exit status.
        const failure = (code: number | null): Error | undefined => {
          try {
            checkAnswer(o.python, o.target, answer, code);
            return undefined;
          } catch (e) {
            return e instanceof Error ? e : new Error(String(e));
          }
        };
        if (failure(null) !== undefined) {
          void exited.then((end) => {
            // Killed before it could say anything (the OOM killer under a --memory-limit too small to start
            // Python, a signal from outside): not a bad interpreter but a program that ended before tracking
            // started, which the caller says as it says any end, and ends as the program did.
            // What -f replaces goes as for a started program, so that no old capture is taken for its own.
            if (answer === '' && end.signal !== null) {
              try {
                o.beforeStart?.();
              } catch (e) {
                rejectP(e instanceof Error ? e : new Error(String(e)));
                return;
              }
              resolveP(started());
            } else rejectP(failure(end.code) ?? new TargetError(`${o.python} failed memlens's check`));
          });
          return;
        }
        try {
          o.beforeStart?.();
        } catch (e) {
          // The child is told nothing and ends when its end of the pipe closes (it then exits, status 2).
          status.destroy();
          void exited.then(() => rejectP(e instanceof Error ? e : new Error(String(e))));
          return;
        }
        status.end('g');
        status.resume();
        resolveP(started());
      };
      const started = (): Launched => ({
        pid: child.pid as number,
        exited,
        capture: pipeFd !== undefined ? ((child.stdio[pipeFd] as Readable | null) ?? undefined) : undefined,
        stdout: child.stdout ?? undefined,
        stderr: child.stderr ?? undefined,
      });
      const onData = (d: string): void => {
        answer += d;
        if (answer.endsWith('\n')) onAnswer();
      };
      status.setEncoding('utf8');
      status.on('data', onData);
      status.on('end', onAnswer);
      status.on('close', onAnswer);
      status.on('error', () => {
        // EPIPE and the like when the child is gone: its exit says the rest.
      });
    });
  });
}
