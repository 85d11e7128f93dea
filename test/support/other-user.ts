// The security tests' two sides: memlens as root (this test process is root), and an attacker running as
// memlens-test-other, the unprivileged user scripts/setup-test-env.mjs creates (scripts/test-user.mjs).
// Also the places an attack happens in: a shared directory like /tmp (world-writable, sticky), a directory
// the other user owns, and a root-only directory holding the victims an attack aims at.

import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './pythons.js';
import { NODE_FLAGS } from '../../src/util/node-flags.js';

export const OTHER_USER = 'memlens-test-other';
export const MEMLENS = join(REPO_ROOT, 'bin', 'memlens.js');

export interface Ids {
  readonly uid: number;
  readonly gid: number;
}

let cached: Ids | undefined;

export function otherUser(): Ids {
  if (cached !== undefined) return cached;
  const uid = spawnSync('id', ['-u', OTHER_USER], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', OTHER_USER], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) throw new Error(`the user ${OTHER_USER} is missing: run 'node scripts/setup-test-env.mjs' (npm test does it)`);
  cached = { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  return cached;
}

/** The command line that runs argv as the other user (setpriv: no supplementary groups, no new privileges). */
export function asOtherArgv(argv: readonly string[], ids: Ids = otherUser()): string[] {
  return ['setpriv', `--reuid=${ids.uid}`, `--regid=${ids.gid}`, '--clear-groups', '--no-new-privs', '--', ...argv];
}

export interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A third user for what neither memlens's user nor the target's may share: nobody. */
export const NOBODY: Ids = { uid: 65534, gid: 65534 };

/** Runs argv as the other user (or `ids`) and waits. */
export function asOther(argv: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; ids?: Ids } = {}): Ran {
  const [cmd, ...args] = asOtherArgv(argv, options.ids);
  const r = spawnSync(cmd as string, args, { encoding: 'utf8', cwd: options.cwd ?? '/', env: options.env ?? { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, timeout: options.timeoutMs ?? 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function spawnAsOther(argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const [cmd, ...args] = asOtherArgv(argv);
  return spawn(cmd as string, args, { cwd: '/', ...options });
}

/** A Python snippet run as the other user with Debian's python3 (the virtualenvs live under /root). */
export function pythonAsOther(code: string, args: readonly string[] = [], options: { cwd?: string; timeoutMs?: number } = {}): Ran {
  return asOther(['/usr/bin/python3', '-c', code, ...args], options);
}

/** memlens as root, with a private HOME of the test's (its private directory) and the given umask. */
export function memlensAsRoot(args: readonly string[], o: { home: string; cwd?: string; env?: NodeJS.ProcessEnv; umask?: number; timeoutMs?: number }): Ran {
  const env = { ...process.env, HOME: o.home, XDG_RUNTIME_DIR: undefined, XDG_CACHE_HOME: undefined, ...o.env };
  const argv = [process.execPath, ...NODE_FLAGS, MEMLENS, ...args];
  const umask = (o.umask ?? 0o022).toString(8);
  const r = spawnSync('sh', ['-c', `umask ${umask} && exec "$@"`, 'sh', ...argv], { encoding: 'utf8', cwd: o.cwd ?? '/', env, timeout: o.timeoutMs ?? 180_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function spawnMemlensAsRoot(args: readonly string[], o: { home: string; cwd?: string; env?: NodeJS.ProcessEnv; umask?: number }): ChildProcess {
  const env = { ...process.env, HOME: o.home, XDG_RUNTIME_DIR: undefined, XDG_CACHE_HOME: undefined, ...o.env };
  const umask = (o.umask ?? 0o022).toString(8);
  return spawn('sh', ['-c', `umask ${umask} && exec "$@"`, 'sh', process.execPath, ...NODE_FLAGS, MEMLENS, ...args], { cwd: o.cwd ?? '/', env, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface Arena {
  /** The test's own root-only directory (0700): victims live here. */
  readonly root: string;
  /** A directory like /tmp: world-writable and sticky. */
  readonly shared: string;
  /** A directory the other user owns (0755): they may change anything in it. */
  readonly theirs: string;
  /** HOME for memlens as root (its private directory goes in it). */
  readonly home: string;
  /** A root file (0600) an attack may try to change or read. */
  readonly victim: string;
  readonly victimText: string;
  remove(): void;
}

/** The directories and the victim of one test file; the parent is world-searchable so the other user reaches `shared` and `theirs`. */
export function makeArena(name: string): Arena {
  const base = mkdtempSync(join(tmpdir(), `memlens-${name}-`));
  chmodSync(base, 0o755);
  const root = join(base, 'root');
  const shared = join(base, 'shared');
  const theirs = join(base, 'theirs');
  const home = join(root, 'home');
  mkdirSync(root, { mode: 0o700 });
  chmodSync(root, 0o700);
  mkdirSync(home, { mode: 0o700 });
  mkdirSync(shared);
  chmodSync(shared, 0o1777);
  mkdirSync(theirs);
  const { uid, gid } = otherUser();
  chownSync(theirs, uid, gid);
  chmodSync(theirs, 0o755);
  const victim = join(root, 'victim');
  const victimText = `precious ${name}\n`;
  writeFileSync(victim, victimText, { mode: 0o600 });
  return { root, shared, theirs, home, victim, victimText, remove: () => rmSync(base, { recursive: true, force: true, maxRetries: 5 }) };
}

/** The victim as it was: same bytes, root's, 0600. */
export function victimIntact(a: Arena): string | undefined {
  const st = lstatSync(a.victim);
  if (!st.isFile()) return 'it is no longer a regular file';
  if (st.uid !== 0 || st.gid !== 0) return `its owner changed to ${st.uid}:${st.gid}`;
  if ((st.mode & 0o777) !== 0o600) return `its mode changed to ${(st.mode & 0o777).toString(8)}`;
  const text = readFileSync(a.victim, 'utf8');
  if (text !== a.victimText) return `its content changed: ${JSON.stringify(text.slice(0, 80))}`;
  return undefined;
}

/** Waits for a condition, polling; the time bound is a guard against a hang, not part of any verdict. */
export async function until(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether memlens's background collector for PID (`memlens _collect PID ...`) is running. */
export function collecting(pid: number): boolean {
  const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
  return ps.split('\n').some((l) => l.includes(`memlens.js _collect ${pid} `));
}

/** Waits until the collector of PID is done (after a detach, or once the target is gone). */
export async function collectorDone(pid: number): Promise<void> {
  await until(`the collector of PID ${pid} to finish`, () => !collecting(pid));
}
