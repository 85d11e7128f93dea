// The Python distribution under test (test/pip/): the wheel and sdist scripts/test.mjs builds once per run
// (scripts/build-wheel.mjs), fresh virtualenvs that install them from the local wheelhouse
// (scripts/setup-python-test-env.mjs fills it), and a PATH on which no node can be found.

import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_CACHE_HOME } from './cache-home.js';
import { REPO_ROOT, type TestPython } from './pythons.js';

export const PYTHON_DIST = join(REPO_ROOT, 'dist', 'python');

function built(pattern: RegExp): string {
  const found = existsSync(PYTHON_DIST) ? readdirSync(PYTHON_DIST).filter((f) => pattern.test(f)) : [];
  if (found.length !== 1) throw new Error(`expected one ${String(pattern)} in ${PYTHON_DIST}, found ${found.length}: run 'node scripts/build-wheel.mjs' (npm test does)`);
  return join(PYTHON_DIST, found[0] as string);
}

export const wheelPath = (arch = 'x86_64'): string => built(new RegExp(`^memlens-.*-py3-none-manylinux_2_28_${arch}\\.whl$`));
export const sdistPath = (): string => built(/^memlens-.*\.tar\.gz$/);

export function wheelhouse(): string {
  const file = join(REPO_ROOT, '.cache', 'wheelhouse.json');
  if (!existsSync(file)) throw new Error(`${file} is missing: run 'node scripts/setup-test-env.mjs' (npm test does)`);
  return (JSON.parse(readFileSync(file, 'utf8')) as { wheelhouse: string }).wheelhouse;
}

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let commandTmp: string | undefined;

/**
 * The TMPDIR of the commands sh() runs, unless a test gives its own: a directory of this test process, removed
 * when it exits. pip run from a zip (ensurepip's bundled wheel; a wheel of the wheelhouse) extracts certifi's
 * CA bundle to a temporary file, and the certifi of pip 23.0.1 (ensurepip's in CPython 3.8 to 3.10 and
 * Debian 12) never removes it: wheel.test's virtualenv of CPython 3.8 left a 269 KiB /tmp/tmpXXXXXXXX (on
 * 3.9 and later, tmpXXXXXXXXcacert.pem) behind on every run. A pip killed by the timeout leaves its files
 * here too. What the process made and nothing else goes when it exits.
 */
export function commandTmpDir(): string {
  if (commandTmp === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'memlens-pip-tmp-'));
    commandTmp = dir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return commandTmp;
}

/** `env` (default: this process's) with TMPDIR in commandTmpDir(), unless it sets a TMPDIR of its own (not the inherited one). */
export function withCommandTmp(env: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
  const own = env?.['TMPDIR'] !== undefined && env['TMPDIR'] !== process.env['TMPDIR'];
  return own ? env : { ...(env ?? process.env), TMPDIR: commandTmpDir() };
}

export function sh(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeout?: number } = {}): Run {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeout ?? 300_000, cwd: opts.cwd, env: withCommandTmp(opts.env), input: opts.input });
  if (r.error !== undefined) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Commands a test may call besides the virtualenv's; node is not among them. */
const TOOLS = ['sh', 'env', 'cat', 'ls', 'rm', 'mkdir', 'uname', 'id', 'head', 'tail', 'grep', 'sed', 'tr', 'sleep'];

/**
 * PATH entries for a test that must not find node: the virtualenv's bin, and a directory of links to a few
 * basic commands (Debian's /bin is /usr/bin, where node is, so neither can be on PATH).
 */
export function pathWithoutNode(work: string, venvBin: string): string {
  const tools = join(work, 'tools-without-node');
  if (!existsSync(tools)) {
    mkdirSync(tools, { recursive: true });
    for (const t of TOOLS) if (existsSync(join('/usr/bin', t))) symlinkSync(join('/usr/bin', t), join(tools, t));
  }
  return `${venvBin}:${tools}`;
}

/**
 * An environment with that PATH and nothing from ours that could lead to node or to our tree; memlens's
 * cache files (the code cache, node versions) in the test process's cache directory, not the home's.
 */
export function envWithoutNode(work: string, venvBin: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { HOME: process.env['HOME'] ?? '/root', XDG_CACHE_HOME: TEST_CACHE_HOME, LANG: 'C.UTF-8', PATH: pathWithoutNode(work, venvBin), TMPDIR: work, ...extra };
}

export interface Venv {
  readonly dir: string;
  readonly bin: string;
  readonly python: string;
}

const pipOf = new Map<string, string>();

/**
 * pip itself, as a wheel of the wheelhouse: `python PIP.whl/pip install ...` runs it (pip's own bootstrap).
 * The newest that runs on this Python (the wheelhouse has one per Python it was filled for).
 */
function pipWheel(python: string): string {
  const known = pipOf.get(python);
  if (known !== undefined) return known;
  const pips = readdirSync(wheelhouse())
    .filter((f) => /^pip-\d.*\.whl$/.test(f))
    .sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
  for (const p of pips) {
    const entry = join(wheelhouse(), p, 'pip');
    if (sh(python, [entry, '--version']).code === 0) {
      pipOf.set(python, entry);
      return entry;
    }
  }
  throw new Error(`no pip wheel in ${wheelhouse()} runs on ${python}: run 'node scripts/setup-test-env.mjs'`);
}

/** `pip install` into the virtualenv of `python`, from the wheelhouse only. */
export function pipInstall(python: string, install: readonly string[], env: NodeJS.ProcessEnv = process.env): Run {
  return sh(python, [pipWheel(python), 'install', '--disable-pip-version-check', '-q', '--no-index', '--find-links', wheelhouse(), ...install], { env });
}

/**
 * A fresh virtualenv of `py` with `install` (the wheel, other packages) installed from the wheelhouse. Made
 * without ensurepip, which costs seconds per virtualenv: pip runs from its wheel instead, and installs itself
 * when `install` names it.
 */
export function makeVenv(py: TestPython, dir: string, install: readonly string[]): Venv {
  const r = sh(py.base, ['-m', 'venv', '--without-pip', dir]);
  if (r.code !== 0) throw new Error(`venv ${dir}: ${r.stderr}`);
  const bin = join(dir, 'bin');
  const python = join(bin, 'python');
  if (install.length > 0) {
    const p = pipInstall(python, install);
    if (p.code !== 0) throw new Error(`pip install ${install.join(' ')} into ${dir}: ${p.stderr}${p.stdout}`);
  }
  return { dir, bin, python };
}

/** A copy of test/pip/sample_project (a project with pytest tests of memory limits) as WORK/NAME. */
export function sampleProject(work: string, name: string): string {
  const dir = join(work, name);
  cpSync(join(REPO_ROOT, 'test', 'pip', 'sample_project'), dir, { recursive: true });
  return dir;
}

/** `python -m pytest ARGS` of the virtualenv in `cwd`, without node on PATH (envWithoutNode), 140 columns wide. */
export function pytestIn(venv: Venv, work: string, cwd: string, args: readonly string[]): Run {
  return sh(venv.python, ['-m', 'pytest', '-p', 'no:cacheprovider', ...args], { cwd, env: envWithoutNode(work, venv.bin, { COLUMNS: '140' }) });
}
