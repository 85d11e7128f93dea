// The CPythons the tests need beyond the ones installed on the machine (called by setup-test-env.mjs):
//
// - Free-threaded builds (3.13t, 3.14t, 3.15t): no distribution ships them here, so they are compiled from
//   CPython's source as Debian's source packages carry it (`apt-get source`, with a private apt state: the
//   machine's own apt configuration is left alone). They are cached outside the clone, in
//   $MEMLENS_TEST_CACHE (default /var/cache/memlens-test), one directory per source version and build
//   recipe, so that a second clone and later CI runs reuse them; each has a virtualenv with numpy.
// - Debian sid's python3.14 and python3.15, installed into the sid root the container tests use, and made
//   runnable on the host as ordinary executables: a copy of each whose ELF interpreter and library path
//   point into the root (patchelf), so that the process, /proc/PID/exe, sys.executable and every child it
//   starts are what a Python installed on the host would be.
//
// Everything is idempotent: what exists and is complete is used as it is.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CACHE = process.env.MEMLENS_TEST_CACHE || '/var/cache/memlens-test';

// What a build is made with. Changing anything here changes the cache key, so builds made otherwise are
// not reused. The build is on the critical path of a fresh machine's first test run (two cores), so it is
// the least that gives a correct interpreter for memlens's tests:
// - no PGO or LTO, and -O1 without -g (OPT replaces CPython's "-g -O3"): the tests need a correct
//   interpreter, not a fast one, and -O3 with debug information costs most of a build's compile time. The
//   attach tests' debugger calls cast every function they call, so they need no debug information; symbols
//   stay (the build is not stripped).
// - no test modules (_testcapi and friends, Lib/test) and no pip in the installation (--without-ensurepip:
//   the virtualenv gets its own pip from the bundled wheel);
// - no extension modules that neither memlens's tests nor pip nor numpy import, and that take long to compile
//   or need libraries a fresh machine lacks: _decimal (decimal falls back to _pydecimal), the CJK codecs,
//   sqlite3, tkinter, curses, dbm, readline, uuid, the subinterpreter modules. _ctypes, _ssl, _hashlib, zlib,
//   _bz2 and _lzma stay: the tests use ctypes, pip needs TLS and the archive formats.
const SKIPPED_MODULES = [
  '_decimal', '_multibytecodec', '_codecs_cn', '_codecs_hk', '_codecs_iso2022', '_codecs_jp', '_codecs_kr', '_codecs_tw',
  '_sqlite3', '_tkinter', '_curses', '_curses_panel', '_dbm', '_gdbm', 'readline', '_uuid',
  '_interpreters', '_interpchannels', '_interpqueues', '_ctypes_test', 'xxlimited', 'xxlimited_35', '_xxtestfuzz',
];
const CONFIGURE = [
  '--disable-gil',
  '--enable-shared',
  '--disable-test-modules',
  '--without-ensurepip',
  'OPT=-DNDEBUG -O1',
  ...SKIPPED_MODULES.map((m) => `py_cv_module_${m}=n/a`),
];
const RECIPE = 'recipe 2: configure, make -j2, make install into a staging directory, venv with numpy';
// As many compile jobs as CPUs (two on the test machines).
const JOBS = Math.max(2, availableParallelism());
const KEY = createHash('sha256').update(`${CONFIGURE.join(' ')}\n${RECIPE}`).digest('hex').slice(0, 10);

// numpy wheels per minor version, free-threaded (cp3Xt) and not: the newest that has them.
export const NUMPY = { 9: 'numpy==2.0.2', 10: 'numpy==2.2.6', 11: 'numpy==2.3.5', 12: 'numpy==2.3.5', 13: 'numpy==2.3.5', 14: 'numpy==2.3.5', 15: 'numpy==2.5.5' };

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', ...opts });
}

function log(text) {
  console.error(`setup: ${text}`);
}

function seconds(t0) {
  return `${Math.round((Date.now() - t0) / 1000)} s`;
}

/** apt-get install, once with the package lists as they are and once after an update. */
export function aptInstall(packages, chrootDir) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args) =>
    chrootDir === undefined ? run('apt-get', args, { stdio: 'inherit', env }) : run('chroot', [chrootDir, 'apt-get', ...args], { stdio: 'inherit', env });
  const install = () => apt(['install', '-y', '-q', '--no-install-recommends', ...packages]);
  if (install().status === 0) return true;
  apt(['update', '-q']);
  return install().status === 0;
}

/** Installs Debian packages on the host where a file they provide is missing (root only). */
function ensureHostPackages(probes) {
  const missing = probes.filter(([, probe]) => !existsSync(probe)).map(([pkg]) => pkg);
  if (missing.length === 0) return true;
  if (process.getuid?.() !== 0) {
    log(`building CPython needs ${missing.join(', ')}, and we are not root: install them with apt-get`);
    return false;
  }
  return aptInstall(missing);
}

/** numpy into a virtualenv, if a wheel for it exists (never from source). Returns the spec or undefined. */
export function installNumpy(vpy, minor) {
  if (run(vpy, ['-c', 'import numpy']).status === 0) return 'present';
  const spec = NUMPY[minor] ?? 'numpy';
  const r = run(vpy, ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', '--only-binary=:all:', spec], { stdio: 'inherit' });
  return r.status === 0 ? spec : undefined;
}

// ---- free-threaded builds -------------------------------------------------------------------------------

const APT_DIR = join(CACHE, 'apt');
const SRC_DIR = join(CACHE, 'src');
const BUILDS_DIR = join(CACHE, 'cpython');

function aptOptions() {
  return [
    '-o', `Dir::Etc::SourceList=${join(APT_DIR, 'sources.list')}`,
    '-o', 'Dir::Etc::SourceParts=/dev/null',
    '-o', `Dir::State::Lists=${join(APT_DIR, 'lists')}`,
    '-o', `Dir::Cache=${join(APT_DIR, 'cache')}`,
    '-o', 'APT::Sandbox::User=root',
  ];
}

let aptReady;
/** A private apt state with Debian sid's (and experimental's) source index; updated once per setup run. */
function sourceIndex() {
  if (aptReady !== undefined) return aptReady;
  mkdirSync(join(APT_DIR, 'lists', 'partial'), { recursive: true });
  mkdirSync(join(APT_DIR, 'cache', 'archives', 'partial'), { recursive: true });
  const sources = 'deb-src http://deb.debian.org/debian sid main\ndeb-src http://deb.debian.org/debian experimental main\n';
  const list = join(APT_DIR, 'sources.list');
  const stamp = join(APT_DIR, 'updated');
  // The index is fetched again once a day (or when the sources changed), not on every test run.
  const fresh = existsSync(stamp) && existsSync(list) && readFileSync(list, 'utf8') === sources && Date.now() - statSync(stamp).mtimeMs < 86_400_000;
  if (fresh) return (aptReady = true);
  writeFileSync(list, sources);
  const r = run('apt-get', [...aptOptions(), 'update', '-q']);
  aptReady = r.status === 0;
  if (aptReady) writeFileSync(stamp, '');
  else log(`apt-get update of Debian's source index failed: ${r.stderr.trim().split('\n').pop()}`);
  return aptReady;
}

/** Debian versions of the source package python3.<minor>, newest first. */
function sourceVersions(minor) {
  if (!sourceIndex()) return [];
  const r = run('apt-cache', [...aptOptions(), 'showsrc', `python3.${minor}`]);
  const versions = new Set();
  for (const m of r.stdout.matchAll(/^Version: (\S+)$/gm)) versions.add(m[1]);
  return [...versions].sort((a, b) => run('dpkg', ['--compare-versions', a, 'gt', b]).status === 0 ? -1 : 1);
}

/** The newest upstream version first (3.13.15 before 3.13.9). */
function byVersionDesc(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pb[i] ?? 0) - (pa[i] ?? 0);
  return 0;
}

/** A source tarball already in the cache for 3.<minor>: Debian's .orig.tar.xz, or one put there by hand. */
function cachedSource(minor) {
  if (!existsSync(SRC_DIR)) return undefined;
  const found = [];
  for (const f of readdirSync(SRC_DIR)) {
    const m = /^(?:Python-|python3\.\d+_)(3\.(\d+)\.(\d+))(?:\.orig)?\.tar\.(?:xz|gz)$/.exec(f);
    if (m !== null && Number(m[2]) === minor) found.push({ version: m[1], tarball: join(SRC_DIR, f) });
  }
  found.sort((a, b) => byVersionDesc(a.version, b.version));
  return found[0];
}

/** Downloads the newest source of python3.<minor> that Debian's mirror serves. */
function downloadSource(minor) {
  const versions = sourceVersions(minor);
  mkdirSync(SRC_DIR, { recursive: true });
  const tried = [];
  for (const v of versions) {
    const upstream = v.replace(/^\d+:/, '').replace(/-[^-]+$/, '');
    const r = run('apt-get', [...aptOptions(), 'source', '--download-only', '-q', `python3.${minor}=${v}`], { cwd: SRC_DIR });
    // Only the upstream tarball is needed: the build is CPython's own, without Debian's patches.
    for (const f of readdirSync(SRC_DIR)) if (f.startsWith(`python3.${minor}_`) && !f.includes('.orig.')) rmSync(join(SRC_DIR, f));
    const tarball = join(SRC_DIR, `python3.${minor}_${upstream}.orig.tar.xz`);
    if (r.status === 0 && existsSync(tarball)) return { version: upstream, tarball };
    rmSync(tarball, { force: true });
    tried.push(v);
  }
  log(
    versions.length === 0
      ? `Debian's source index lists no python3.${minor}`
      : `Debian's mirror serves no source of python3.${minor} (tried ${tried.join(', ')})`,
  );
  return undefined;
}

/** Completed builds in the cache for 3.<minor>t with this recipe, newest first. */
function cachedBuilds(minor) {
  if (!existsSync(BUILDS_DIR)) return [];
  const out = [];
  for (const d of readdirSync(BUILDS_DIR)) {
    const m = /^(3\.(\d+)\.(\d+))t-([0-9a-f]+)$/.exec(d);
    if (m === null || Number(m[2]) !== minor || m[4] !== KEY) continue;
    if (existsSync(join(BUILDS_DIR, d, '.complete'))) out.push({ version: m[1], dir: join(BUILDS_DIR, d) });
  }
  return out.sort((a, b) => byVersionDesc(a.version, b.version));
}

/** Removes the cached builds of 3.<minor>t made with another recipe, or older than `keep` (they are not used). */
function pruneBuilds(minor, keep) {
  for (const d of readdirSync(BUILDS_DIR)) {
    const m = /^(3\.(\d+)\.(\d+))t-([0-9a-f]+)$/.exec(d);
    if (m === null || Number(m[2]) !== minor || join(BUILDS_DIR, d) === keep) continue;
    log(`removing ${join(BUILDS_DIR, d)} (${m[4] === KEY ? 'an older version' : 'another build recipe'})`);
    rmSync(join(BUILDS_DIR, d), { recursive: true, force: true });
  }
}

/** Configures, compiles and installs CPython from `tarball` into `prefix` (built elsewhere, then moved). */
function build(version, tarball, prefix) {
  const minor = Number(version.split('.')[1]);
  const work = join(BUILDS_DIR, `.build-${version}t-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const times = [];
  let cpu = 0;
  const step = (name, cmd, args, opts = {}) => {
    const t0 = Date.now();
    // nice: the machine is shared. The shell's `times` gives the CPU time the step
    // used (its second line: children's user and system time), which unlike the wall time does not depend
    // on how busy the machine is.
    const r = run('bash', ['-c', 'nice -n 10 "$@"; rc=$?; times >&2; exit $rc', 'step', cmd, ...args], { maxBuffer: 1 << 30, ...opts });
    const used = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec((r.stderr ?? '').trim().split('\n').pop() ?? '');
    const stepCpu = used === null ? 0 : Number(used[1]) * 60 + Number(used[2]) + Number(used[3]) * 60 + Number(used[4]);
    cpu += stepCpu;
    times.push(`${name} ${seconds(t0)} (CPU ${Math.round(stepCpu)} s)`);
    if (r.status !== 0) {
      const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
      throw new Error(`${name} of CPython ${version}t failed:\n${tail}`);
    }
  };
  const t0 = Date.now();
  try {
    step('unpack', 'tar', ['-xf', tarball, '-C', work, '--strip-components=1']);
    // The rpath names the final prefix; `make install` writes into a staging directory (DESTDIR) that is
    // then moved there in one rename, so a build that dies half-way leaves nothing that looks complete.
    step('configure', './configure', ['-q', `--prefix=${prefix}`, ...CONFIGURE, `LDFLAGS=-Wl,-rpath,${prefix}/lib`], { cwd: work });
    step('make', 'make', [`-j${JOBS}`, '-s'], { cwd: work });
    const stage = join(work, 'stage');
    step('install', 'make', ['-s', 'install', `DESTDIR=${stage}`], { cwd: work });
    rmSync(prefix, { recursive: true, force: true });
    renameSync(join(stage, prefix), prefix);
    const exe = join(prefix, 'bin', `python3.${minor}t`);
    const venv = join(prefix, 'venv');
    step('venv', exe, ['-m', 'venv', venv]);
    const numpy = installNumpy(join(venv, 'bin', 'python3'), minor);
    const total = `${seconds(t0)}, CPU ${Math.round(cpu)} s`;
    writeFileSync(join(prefix, '.complete'), JSON.stringify({ version, configure: CONFIGURE, recipe: RECIPE, numpy: numpy ?? null, total, times }, null, 2));
    log(`built CPython ${version}t in ${prefix}: ${total} (${times.join(', ')}; numpy: ${numpy ?? 'no free-threaded wheel'})`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const FT_MINORS = [13, 14, 15];

/** What building CPython needs on the host, installed when missing (before any build, apt-get is not shared). */
function ensureBuildDeps() {
  return ensureHostPackages(
    [
      ['build-essential', '/usr/bin/make'],
      ['xz-utils', '/usr/bin/xz'],
      ['libffi-dev', '/usr/include/x86_64-linux-gnu/ffi.h'],
      ['libssl-dev', '/usr/include/openssl/ssl.h'],
      ['zlib1g-dev', '/usr/include/zlib.h'],
    ].filter(([, probe]) => process.arch !== 'arm64' || !probe.includes('x86_64')),
  );
}

/**
 * The free-threaded CPythons for the tests: for each of 3.13t, 3.14t, 3.15t, a cached build, or a build of
 * the newest source that can be had. A version whose source cannot be had is left out, with a message that
 * says how to provide it. `depsOk`: whether the build dependencies are installed (undefined: find out).
 */
export function freeThreadedPythons(minors = FT_MINORS, depsOk = undefined) {
  const out = [];
  for (const minor of minors) {
    let builds = cachedBuilds(minor);
    if (builds.length === 0) {
      depsOk ??= ensureBuildDeps();
      const src = depsOk ? cachedSource(minor) ?? downloadSource(minor) : undefined;
      if (src === undefined) {
        log(`CPython 3.${minor}t is left out of the tests: no source for it (put Python-3.${minor}.N.tar.xz into ${SRC_DIR} to build it)`);
        continue;
      }
      log(`building CPython ${src.version}t from ${basename(src.tarball)} (a few minutes; cached in ${BUILDS_DIR})`);
      try {
        build(src.version, src.tarball, join(BUILDS_DIR, `${src.version}t-${KEY}`));
      } catch (e) {
        log(e.message);
        continue;
      }
      builds = cachedBuilds(minor);
      if (builds[0] !== undefined) pruneBuilds(minor, builds[0].dir);
    }
    const b = builds[0];
    if (b === undefined) continue;
    const python = join(b.dir, 'venv', 'bin', 'python3');
    if (run(python, ['-c', 'import numpy']).status !== 0 && installNumpy(python, minor) === undefined) {
      log(`pip could not install numpy for CPython ${b.version}t`);
      process.exit(1);
    }
    out.push({ version: b.version, minor, base: join(b.dir, 'bin', `python3.${minor}t`), python, system: false, freeThreaded: true });
  }
  return out;
}

/**
 * freeThreadedPythons() in a child process, so that a build (minutes of CPU) overlaps the rest of the set-up
 * (mostly downloads and package installs). The build dependencies are installed first, here: the rest of
 * the set-up uses apt-get on the host too, and two apt-gets cannot run at once. Resolves to the list, or
 * exits the set-up if the child failed.
 */
export function startFreeThreadedPythons(minors = FT_MINORS) {
  const needsBuild = minors.some((m) => cachedBuilds(m).length === 0);
  const depsOk = needsBuild ? ensureBuildDeps() : true;
  mkdirSync(CACHE, { recursive: true });
  const result = join(CACHE, `.free-threaded-${process.pid}.json`);
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'free-threaded', result, String(depsOk), ...minors.map(String)], { stdio: 'inherit' });
  // The set-up stopped before it waited (a failure elsewhere): the build stops too.
  const stop = () => child.exitCode === null && child.signalCode === null && child.kill();
  process.on('exit', stop);
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      const list = code === 0 && existsSync(result) ? JSON.parse(readFileSync(result, 'utf8')) : undefined;
      rmSync(result, { force: true });
      if (list === undefined) {
        log(`the free-threaded builds failed (${signal ?? `exit ${code}`})`);
        process.exit(1);
      }
      resolve(list);
    });
  });
}

// node setup-pythons.mjs free-threaded RESULT DEPS_OK MINOR... (startFreeThreadedPythons runs this).
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'free-threaded') {
  const [result, depsOk, ...minors] = process.argv.slice(3);
  writeFileSync(result, JSON.stringify(freeThreadedPythons(minors.map(Number), depsOk === 'true' ? true : undefined)));
}

// ---- Debian sid's interpreters on the host ----------------------------------------------------------------

const LOADER = { x64: ['lib64/ld-linux-x86-64.so.2', 'x86_64-linux-gnu'], arm64: ['lib/ld-linux-aarch64.so.1', 'aarch64-linux-gnu'] };

/**
 * python3.<minor> from the sid root, runnable on the host: installs it into the root when missing (with its
 * venv support and headers: the layout tests compile against them), makes `usr/lib/memlens-host/python3.<minor>`,
 * a copy whose ELF interpreter and DT_RPATH point into the root, and a virtualenv with numpy in `venvDir`.
 */
export function sidPython(rootDir, minor, venvDir) {
  const root = realpathSync(rootDir);
  const [loader, triplet] = LOADER[process.arch] ?? [];
  if (loader === undefined) return undefined;
  const exe = join(root, 'usr', 'bin', `python3.${minor}`);
  const needs = [
    [`python3.${minor}`, exe],
    [`python3.${minor}-venv`, join(root, 'usr', 'lib', `python3.${minor}`, 'ensurepip', '__init__.py')],
    [`libpython3.${minor}-dev`, join(root, 'usr', 'include', `python3.${minor}`, 'internal', 'pycore_debug_offsets.h')],
  ];
  const missing = needs.filter(([, probe]) => !existsSync(probe)).map(([pkg]) => pkg);
  if (missing.length > 0) {
    log(`installing ${missing.join(' ')} into ${root}`);
    if (!aptInstall(missing, root) || !existsSync(exe)) {
      log(`apt-get could not install ${missing.join(' ')} into the sid root; CPython 3.${minor} (sid) is left out of the tests`);
      return undefined;
    }
  }
  if (!existsSync('/usr/bin/patchelf') && !aptInstall(['patchelf'])) {
    log('patchelf is missing and apt-get could not install it');
    process.exit(1);
  }
  // Named like the interpreter (memlens recognises the interpreter's image by its name), outside the root's
  // PATH; CPython finds its prefix (the root's /usr) by searching upwards from here.
  const hostDir = join(root, 'usr', 'lib', 'memlens-host');
  mkdirSync(hostDir, { recursive: true });
  const host = join(hostDir, `python3.${minor}`);
  const interp = join(root, loader);
  const rpath = [join(root, 'lib', triplet), join(root, 'usr', 'lib', triplet)].join(':');
  const current = existsSync(host) ? run('patchelf', ['--print-interpreter', host]).stdout.trim() : '';
  if (current !== interp || statSync(host).mtimeMs < statSync(exe).mtimeMs) {
    const tmp = `${host}.tmp`;
    copyFileSync(exe, tmp);
    // DT_RPATH (not RUNPATH): it applies to the libraries the interpreter's extension modules load too.
    const r = run('patchelf', ['--set-interpreter', interp, '--force-rpath', '--set-rpath', rpath, tmp]);
    if (r.status !== 0) {
      log(`patchelf failed on ${tmp}: ${r.stderr.trim()}`);
      process.exit(1);
    }
    renameSync(tmp, host);
  }
  const probe = run(host, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])']);
  if (probe.status !== 0) {
    log(`${host} does not run on this host: ${probe.stderr.trim().split('\n').pop()}`);
    return undefined;
  }
  const version = probe.stdout.trim();
  const venv = join(venvDir, `sid-${version}`);
  const vpy = join(venv, 'bin', 'python3');
  const ready = join(venv, '.pip-ready');
  if (!existsSync(ready) || readFileSync(ready, 'utf8') !== host) {
    // Debian's ensurepip takes pip's wheel from /usr/share/python-wheels, which is the host's (an older pip):
    // pip comes from the root's own wheel instead.
    const wheels = join(root, 'usr', 'share', 'python-wheels');
    const pipWheel = existsSync(wheels) ? readdirSync(wheels).find((f) => f.startsWith('pip-')) : undefined;
    rmSync(venv, { recursive: true, force: true });
    const ok =
      pipWheel !== undefined &&
      run(host, ['-m', 'venv', '--without-pip', venv], { stdio: 'inherit' }).status === 0 &&
      run(vpy, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--no-index', '--find-links', wheels, 'pip'], {
        stdio: 'inherit',
        env: { ...process.env, PYTHONPATH: join(wheels, pipWheel) },
      }).status === 0;
    if (!ok) {
      log(`cannot create a virtualenv with pip for ${host}`);
      return undefined;
    }
    writeFileSync(ready, host);
  }
  if (installNumpy(vpy, minor) === undefined) {
    log(`pip could not install ${NUMPY[minor] ?? 'numpy'} for ${host}`);
    process.exit(1);
  }
  return { version, minor, base: host, python: vpy, system: false, freeThreaded: false, sid: true };
}
