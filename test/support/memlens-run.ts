// Runs `memlens run` as a user would (a real node process running bin/memlens.js, a real Python), in a
// temporary directory, and hands back what happened.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './pythons.js';
import { NODE_FLAGS } from '../../src/util/node-flags.js';

export const MEMLENS_BIN = join(REPO_ROOT, 'bin', 'memlens.js');

export interface RunOptions {
  readonly python: string;
  /** Files to create in the temporary directory (name → contents). */
  readonly files?: Readonly<Record<string, string>>;
  /** What follows the options: ['prog.py', 'arg'] or ['-m', 'mod'] or ['-c', 'code']. */
  readonly program: readonly string[];
  /** memlens run options (after the ones this helper adds). */
  readonly runArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Called for each chunk the program writes to stdout (to kill it at the right moment). */
  readonly onStdout?: (all: string, memlens: ChildProcess) => void;
  readonly timeoutMs?: number;
  /** Capture file name in the directory (default capture.mlens); null: let memlens choose. */
  readonly output?: string | null;
  /** Let memlens print where the capture is (default: -q). */
  readonly verbose?: boolean;
  /** Written to the program's standard input (default: none, stdin is /dev/null). */
  readonly stdin?: string;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly dir: string;
  readonly capture: string;
}

/** A temporary directory removed by the returned function. */
export function tempDir(prefix = 'memlens-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function memlensRun(o: RunOptions, dir: string): Promise<RunResult> {
  for (const [name, text] of Object.entries(o.files ?? {})) writeFileSync(join(dir, name), text);
  const capture = join(dir, o.output ?? 'capture.mlens');
  const args = [...NODE_FLAGS, MEMLENS_BIN, 'run', '--python', o.python, ...(o.output === null ? [] : ['-o', capture]), ...(o.verbose === true ? [] : ['-q']), ...(o.runArgs ?? []), ...o.program];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: dir, env: { ...process.env, ...o.env }, stdio: [o.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (o.stdin !== undefined) child.stdin?.end(o.stdin);
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`memlens run ${o.program.join(' ')} did not finish in ${o.timeoutMs ?? 120000} ms; stderr: ${stderr}`));
    }, o.timeoutMs ?? 120000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      o.onStdout?.(stdout, child);
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, dir, capture });
    });
  });
}

export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** What `child` (its stdout and stderr piped) wrote, and how it ended: once its output is closed, all of it. */
export function finished(child: ChildProcess): Promise<Finished> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The 1-based line of `source` that contains `marker` (a comment such as "# ALLOC-A"). */
export function lineOf(source: string, marker: string): number {
  const i = source.split('\n').findIndex((l) => l.includes(marker));
  if (i < 0) throw new Error(`marker ${marker} is not in the source`);
  return i + 1;
}

/**
 * Runs a program under the bootstrap directly, without memlens (for agent settings `memlens run` does not
 * expose). `config` is merged into the bootstrap's configuration.
 */
export async function bootstrapRun(
  o: { python: string; files?: Readonly<Record<string, string>>; target: import('../../src/process/python.js').RunTarget; config?: Record<string, unknown>; output?: string },
  dir: string,
): Promise<RunResult> {
  const { findAgent } = await import('../../src/process/agent-files.js');
  const { bootstrapArgs, BOOTSTRAP_ENV } = await import('../../src/process/launch.js');
  for (const [name, text] of Object.entries(o.files ?? {})) writeFileSync(join(dir, name), text);
  const files = findAgent();
  const capture = join(dir, o.output ?? 'capture.mlens');
  const env = { ...process.env, [BOOTSTRAP_ENV]: JSON.stringify({ run: o.target.kind, agent: files.library, output: capture, overwrite: true, ...o.config }) };
  const child = spawn(o.python, bootstrapArgs(files, o.target), { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  return { ...(await finished(child)), dir, capture };
}
