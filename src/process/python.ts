// Finding the target Python and checking, before anything starts, that memlens can run the program with
// it: CPython 3.9 or newer, and a script that exists and parses.

import { spawn } from 'node:child_process';
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

// Runs under the target Python, which may be any version (even Python 2): no f-strings, nothing newer
// than 2.7 before the version check. It never runs the program: compile() with the AST flag only parses.
// It is on the way of every `memlens run`, so it imports nothing it can do without: it starts with -S (no
// site: nothing here needs site-packages), parses with ast.PyCF_ONLY_AST's value (0x400 in every CPython)
// rather than importing ast, reads the bytecode magic from the import system already loaded, and writes its
// answer by hand (json only to quote an error message that needs escapes). That halved its CPU time
// (docs/benchmarks.md, "Fixed cost").
const PREFLIGHT = `
import sys, os
impl = getattr(getattr(sys, "implementation", None), "name", "cpython" if "PyPy" not in sys.version else "pypy")
error = None
kind, target = sys.argv[1], sys.argv[2]
if impl == "cpython" and tuple(sys.version_info[:2]) >= (3, 9):
    try:
        if kind == "script":
            if os.path.isdir(target):
                if not os.path.exists(os.path.join(target, "__main__.py")):
                    error = "%s is a directory without a __main__.py" % target
            else:
                with open(target, "rb") as f:
                    src = f.read()
                if src[:2] != b"PK" and src[:4] != sys.modules["_frozen_importlib_external"].MAGIC_NUMBER:
                    compile(src, target, "exec", 0x400, dont_inherit=True)
        elif kind == "code":
            compile(target, "<string>", "exec", 0x400, dont_inherit=True)
    except SyntaxError as e:
        error = "does not parse: line %s: %s" % (e.lineno, e.msg)
    except (OSError, ValueError) as e:
        error = "cannot be read: %s" % (getattr(e, "strerror", None) or e)
def q(s):
    if s is None:
        return "null"
    if all(" " <= c <= "~" and c != '"' and c != chr(92) for c in s):
        return '"' + s + '"'
    import json
    return json.dumps(s)
v = sys.version_info
sys.stdout.write('{"impl": %s, "version": [%d, %d, %d], "hexversion": %d, "error": %s}' % (q(impl), v[0], v[1], v[2], sys.hexversion, q(error)))
`;

interface PreflightResult {
  impl: string;
  version: [number, number, number];
  hexversion: number;
  error: string | null;
}

function runPreflight(python: string, kind: string, target: string, cwd: string, env: Record<string, string | undefined>): Promise<PreflightResult> {
  return new Promise((resolveP, rejectP) => {
    const child = spawn(python, ['-S', '-c', PREFLIGHT, kind, target], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', (e) => rejectP(new TargetError(`cannot run ${python}: ${e.message}`, { hint: 'Give a working interpreter with --python PATH.', cause: e })));
    child.on('close', (code) => {
      try {
        resolveP(JSON.parse(out) as PreflightResult);
      } catch (e) {
        const detail = err.trim().split('\n').pop() ?? '';
        rejectP(
          new TargetError(`${python} did not answer memlens's version check (exit status ${code}${detail !== '' ? `: ${detail}` : ''})`, {
            hint: 'Give a CPython 3.9+ interpreter with --python PATH.',
            cause: e,
          }),
        );
      }
    });
  });
}

/** Checks the interpreter and the program; returns what memlens needs to know about the interpreter. */
export async function preflight(python: string, target: RunTarget, cwd: string, env: Record<string, string | undefined>): Promise<PythonInfo> {
  if (target.kind === 'script') {
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
  const what = target.kind === 'script' ? target.path : target.kind === 'module' ? target.module : target.code;
  const r = await runPreflight(python, target.kind, what, cwd, env);
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
