// Finding the target Python and checking that memlens can run the program with it: CPython 3.9 or newer,
// and a script that exists and parses.

import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { TargetError } from '../errors.js';

/** What `memlens run` is asked to run, as python3's command line says it. */
export type RunTarget =
  | { readonly kind: 'script'; readonly path: string; readonly args: readonly string[] }
  | { readonly kind: 'module'; readonly module: string; readonly args: readonly string[] }
  | { readonly kind: 'code'; readonly code: string; readonly args: readonly string[] };

export interface PythonInfo {
  readonly executable: string;
  readonly implementation: string;
  /** [major, minor, micro] */
  readonly version: readonly [number, number, number];
  readonly hexversion: number;
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The python3 a shell would run: the first executable `python3` on PATH (so an active virtualenv is
 * used). `explicit` (--python) wins; a bare name is looked up on PATH too.
 */
export function findPython(env: Readonly<Record<string, string | undefined>>, cwd: string, explicit?: string): string {
  const name = explicit ?? 'python3';
  if (name.includes('/')) {
    const path = isAbsolute(name) ? name : resolve(cwd, name);
    if (!isExecutableFile(path)) {
      throw new TargetError(`--python ${name}: not an executable file`, { hint: 'Give the path of a CPython 3.9+ interpreter.' });
    }
    return path;
  }
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const path = join(isAbsolute(dir) ? dir : resolve(cwd, dir), name);
    if (isExecutableFile(path)) return path;
  }
  throw new TargetError(explicit !== undefined ? `--python ${name}: not found on PATH` : 'no python3 found on PATH', {
    hint: 'Give the interpreter with --python PATH.',
  });
}

// The checks that once ran in a preflight Python of their own (a second interpreter start on every
// `memlens run`, about a tenth of its fixed cost: docs/benchmarks.md, "Fixed cost") now run in the target
// Python itself, before the agent loads and before the program runs: the version check here, first in the
// bootstrap's loader (launch.ts), and the program's (exists, reads, parses) in the bootstrap
// (agent/python/memlens_bootstrap.py, _check). Both answer on the status descriptor the launcher gives
// them, in the words below, and the launcher turns the answer into the same one-line errors (checkAnswer).
//
// The version check runs under whatever --python names, which may be any version (even Python 2): no
// f-strings, nothing newer than 2.7. An interpreter memlens cannot use answers and exits with status 2.
/** The loader's first lines: the interpreter's check, answered on `statusFd` (or on stderr without one). */
export function versionCheck(statusFd: number | undefined): string {
  const answer =
    statusFd !== undefined
      ? `import json; os.write(${statusFd}, json.dumps({"impl": impl, "version": list(v[:3]), "hexversion": sys.hexversion, "error": None}).encode("ascii"))`
      : 'sys.stderr.write("memlens: error: %s %d.%d.%d is not CPython 3.9 or newer\\n" % (impl, v[0], v[1], v[2]))';
  return [
    'import sys, os',
    'impl = getattr(getattr(sys, "implementation", None), "name", "cpython" if "PyPy" not in sys.version else "pypy")',
    'v = sys.version_info',
    'if impl != "cpython" or tuple(v[:2]) < (3, 9):',
    `    ${answer}`,
    '    sys.exit(2)',
    'del impl, v',
  ].join('\n');
}

/** What the version check and the bootstrap's check answer (one JSON object). */
export interface CheckAnswer {
  impl: string;
  version: [number, number, number];
  hexversion: number;
  error: string | null;
}

/**
 * The program exists: checked before anything starts, so that a mistyped script fails before the
 * interpreter does (and says so in memlens's words).
 */
export function checkTarget(target: RunTarget, cwd: string): void {
  if (target.kind !== 'script') return;
  const path = resolve(cwd, target.path);
  let isFile: boolean;
  try {
    const st = statSync(path);
    isFile = st.isFile() || st.isDirectory();
  } catch {
    isFile = false;
  }
  if (!isFile) throw new TargetError(`${target.path}: no such file`, { hint: 'Give the path of the Python script to run (or -m MODULE, or -c CODE).' });
}

/**
 * The interpreter's and the program's check, from what the target Python answered on its status descriptor
 * (`raw`, empty when it said nothing) and, when it ended without a good answer, its exit status. Throws
 * the one-line TargetError that says what is wrong; returns what memlens needs to know about the interpreter.
 */
export function checkAnswer(python: string, target: RunTarget, raw: string, exitCode: number | null): PythonInfo {
  let r: CheckAnswer;
  try {
    r = JSON.parse(raw) as CheckAnswer;
  } catch (e) {
    throw new TargetError(`${python} did not answer memlens's version check (exit status ${exitCode ?? 'none: killed by a signal'})`, {
      hint: 'Give a CPython 3.9+ interpreter with --python PATH.',
      cause: e,
    });
  }
  const version = r.version.join('.');
  if (r.impl !== 'cpython') {
    throw new TargetError(`${python} is ${r.impl} ${version}; memlens supports CPython only`, { hint: 'Give a CPython 3.9+ interpreter with --python PATH.' });
  }
  const [major, minor] = r.version;
  if (major !== 3 || minor < 9) {
    throw new TargetError(`${python} is CPython ${version}; memlens needs CPython 3.9 or newer`, {
      hint: 'Give a newer interpreter with --python PATH (or activate a virtualenv that has one).',
    });
  }
  if (r.error !== null) {
    const name = target.kind === 'code' ? 'the -c code' : target.kind === 'script' ? target.path : target.module;
    throw new TargetError(`${name} ${r.error}`, { hint: 'Fix the program first: memlens runs it unchanged.' });
  }
  return { executable: python, implementation: r.impl, version: r.version, hexversion: r.hexversion };
}
