// What the pyframes tests share: the CPythons installed on this machine, and building the test-only C
// programs of agent/test/ with the machine's compiler (warnings are errors, as for the agent).
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/test/pyframes/). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const AGENT_SRC = join(ROOT, 'agent', 'src');
export const AGENT_TEST = join(ROOT, 'agent', 'test');
export const SCRIPTS = join(ROOT, 'test', 'pyframes');

export interface InstalledPython {
  readonly exe: string;
  readonly version: string;
  readonly major: number;
  readonly minor: number;
  /** Debian's /usr/bin/python3: libpython linked statically into the executable. */
  readonly system: boolean;
  /** sysconfig's include directory (Python.h), when the headers are installed. */
  readonly include: string | undefined;
  /** A free-threaded build (Py_GIL_DISABLED). */
  readonly freeThreaded: boolean;
}

const PROBE_VERSION =
  'import sys, sysconfig, os; i = sysconfig.get_paths().get("include") or ""; ' +
  'print("%d %d %d %d %s" % (sys.version_info[0], sys.version_info[1], sys.version_info[2], bool(sysconfig.get_config_var("Py_GIL_DISABLED")), ' +
  'i if os.path.exists(os.path.join(i, "Python.h")) else ""))';

/** The interpreters the test setup adds (Debian sid's, free-threaded builds): .cache/pythons.json's `base`. */
function setupPythons(): string[] {
  const file = join(ROOT, '.cache', 'pythons.json');
  if (!existsSync(file)) return [];
  const list = JSON.parse(readFileSync(file, 'utf8')) as { base: string; sid?: boolean; freeThreaded?: boolean }[];
  return list.filter((p) => p.sid === true || p.freeThreaded === true).map((p) => p.base);
}

let cached: InstalledPython[] | undefined;

/** Every CPython 3 under pyenv and /usr/bin/python3, oldest first (including versions the agent does not support). */
export function installedPythons(): InstalledPython[] {
  if (cached !== undefined) return cached;
  const exes: string[] = [];
  const versionsDir = join(process.env.PYENV_ROOT ?? join(homedir(), '.pyenv'), 'versions');
  if (existsSync(versionsDir)) {
    for (const v of readdirSync(versionsDir)) {
      const exe = join(versionsDir, v, 'bin', 'python3');
      if (existsSync(exe)) exes.push(exe);
    }
  }
  if (existsSync('/usr/bin/python3')) exes.push('/usr/bin/python3');
  exes.push(...setupPythons());
  const found: InstalledPython[] = [];
  for (const exe of exes) {
    const r = spawnSync(exe, ['-c', PROBE_VERSION], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    const [major, minor, micro, ft, include] = r.stdout.trim().split(' ');
    if (major !== '3') continue;
    found.push({
      exe,
      version: `${major}.${minor}.${micro}`,
      major: Number(major),
      minor: Number(minor),
      system: exe.startsWith('/usr/'),
      include: include === undefined || include === '' ? undefined : include,
      freeThreaded: ft === '1',
    });
  }
  found.sort((a, b) => a.minor - b.minor || Number(a.freeThreaded) - Number(b.freeThreaded) || Number(a.system) - Number(b.system));
  cached = found;
  return found;
}

/** The versions pyframes.c supports (3.9+). */
export function supportedPythons(): InstalledPython[] {
  return installedPythons().filter((p) => p.minor >= 9);
}

export function label(p: InstalledPython): string {
  const version = p.freeThreaded ? `${p.version}t` : p.version;
  return p.system || p.exe.includes('memlens-host') ? `${version} (${p.exe})` : version;
}

/** -I flags for a CPython's headers, internal ones included. Debian's pyconfig.h includes its
 * architecture's from the directory above, which for the sid root's interpreters is also the root's libc
 * headers: searched only after the machine's own (-idirafter). */
export function includeFlags(include: string): string[] {
  return [`-I${include}`, `-I${join(include, 'internal')}`, '-idirafter', dirname(include)];
}

/** Runs a Python script and returns its stdout; fails with its stderr when it does not exit 0. Stdout goes
 * through a file: collecting megabytes through spawnSync's pipe costs seconds of system time. */
export function runPython(p: InstalledPython, args: string[]): string {
  const dir = tempDir('memlens-py-');
  try {
    const outPath = join(dir, 'stdout');
    const fd = openSync(outPath, 'w');
    let r: SpawnSyncReturns<string>;
    try {
      r = spawnSync(p.exe, args, { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
    } finally {
      closeSync(fd);
    }
    if (r.status !== 0) throw new Error(`${p.exe} ${args.join(' ')} exited with ${r.status ?? r.signal}:\n${r.stderr}`);
    return readFileSync(outPath, 'utf8');
  } finally {
    removeDir(dir);
  }
}

/** The flags the agent is built with (scripts/build-agent.mjs), warnings as errors. */
export const STRICT_CFLAGS = [
  '-std=c11',
  '-D_GNU_SOURCE',
  '-pthread',
  '-Wall',
  '-Wextra',
  '-Werror',
  '-Wshadow',
  '-Wstrict-prototypes',
  '-Wmissing-prototypes',
  '-Wvla',
  '-fno-strict-aliasing',
  '-O2',
  '-g',
];

export function compile(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.env.CC ?? 'cc', args, { encoding: 'utf8' });
}

/** A fresh temporary directory; the caller removes it with removeDir. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
