#!/usr/bin/env node
// Prepares what the tests need beyond npm packages, idempotently, under .cache/:
// - one virtualenv per CPython >= 3.9 found on the machine (pyenv versions, /usr/bin/python3), with numpy;
// - Debian sid's CPython 3.14 and 3.15, and free-threaded builds 3.13t, 3.14t, 3.15t (setup-pythons.mjs);
// - .cache/pythons.json: the list the tests iterate over (test/support/pythons.ts reads it);
// - Debian's chromium at /usr/bin/chromium for the HTML report's browser tests (playwright-core drives it;
//   playwright's own browser download does not work offline), installed with apt-get when we are root;
//   likewise lldb, gdb and debootstrap for the attach tests, clang-format for the agent's format check.
// - a second, unprivileged user for the security tests (scripts/test-user.mjs).
// - the Go programs of the push tests (setup-go-tools.mjs): an OpenTelemetry Collector and a Pyroscope
//   receiver, built from their Go modules into .cache/go/.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installNumpy, NUMPY, sidPython, startFreeThreadedPythons } from './setup-pythons.mjs';
import { ensureTestUser } from './test-user.mjs';
import { setupArm64Root, setupWheelhouse } from './setup-python-test-env.mjs';
import { setupGoTools } from './setup-go-tools.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(root, '.cache'), { recursive: true });
// The real path: a checkout whose .cache is a link to another's shares the environment, and the paths written
// into pythons.json must not depend on which checkout wrote them.
const cache = realpathSync(join(root, '.cache'));

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', ...opts });
}

function candidates() {
  const found = [];
  const pyenvRoot = process.env.PYENV_ROOT || join(homedir(), '.pyenv');
  const versionsDir = join(pyenvRoot, 'versions');
  if (existsSync(versionsDir)) {
    for (const v of readdirSync(versionsDir)) {
      const exe = join(versionsDir, v, 'bin', 'python3');
      if (existsSync(exe)) found.push(exe);
    }
  }
  for (const exe of ['/usr/bin/python3']) if (existsSync(exe)) found.push(exe);
  return found;
}

/** Installs a Debian package when `probe` (a file) is missing: the browser, attach and container tests need them. */
function ensurePackage(pkg, probe, why) {
  if (existsSync(probe)) return;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    console.error(`setup: ${probe} is missing and we are not root: install it (apt-get install ${pkg}) ${why}`);
    process.exit(1);
  }
  const install = () => run('apt-get', ['install', '-y', '-q', '--no-install-recommends', pkg], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  let r = install();
  if (r.status !== 0) {
    // The package lists may be missing or stale on a fresh machine.
    run('apt-get', ['update', '-q'], { stdio: 'inherit' });
    r = install();
  }
  if (r.status !== 0 || !existsSync(probe)) {
    console.error(`setup: apt-get could not install ${pkg}`);
    process.exit(1);
  }
}
// Free-threaded CPythons: compiled from source in a child process while the rest is set up (a first build
// takes minutes of CPU; the rest is mostly downloads).
const freeThreaded = startFreeThreadedPythons();
ensurePackage('chromium', '/usr/bin/chromium', 'for the browser tests');
// memlens attach to Pythons before 3.14 goes through a debugger; gdb cannot call functions on CPUs with AMX
// state (such as these machines), so the tests need lldb too.
ensurePackage('lldb', '/usr/bin/lldb', 'for the attach tests');
ensurePackage('gdb', '/usr/bin/gdb', 'for the attach tests');
ensurePackage('debootstrap', '/usr/sbin/debootstrap', 'to build the container root of the attach tests');
ensurePackage('clang-format', '/usr/bin/clang-format', "for the agent's format check (scripts/check-agent-format.mjs)");
ensureTestUser();
ensurePackage('qemu-user', '/usr/bin/qemu-aarch64', 'to run the aarch64 agent of the Python wheel');

const pythons = [];
for (const exe of candidates()) {
  const probe = run(exe, ['-c', 'import sys,json,sysconfig;print(json.dumps([sys.version_info[:3], sys.implementation.name, bool(sysconfig.get_config_var("Py_GIL_DISABLED"))]))']);
  if (probe.status !== 0) continue;
  const [[major, minor, micro], impl, freeThreaded] = JSON.parse(probe.stdout);
  if (impl !== 'cpython' || major !== 3 || minor < 9) continue;
  const version = `${major}.${minor}.${micro}`;
  const tag = (exe.startsWith('/usr/') ? `system-${version}` : version) + (freeThreaded ? 't' : '');
  const venv = join(cache, 'venv', tag);
  const vpy = join(venv, 'bin', 'python3');
  if (!existsSync(vpy)) {
    const r = run(exe, ['-m', 'venv', venv], { stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`setup: cannot create a virtualenv for ${exe}; it is left out of the tests`);
      continue;
    }
  }
  if (installNumpy(vpy, minor) === undefined) {
    console.error(`setup: pip could not install ${NUMPY[minor] ?? 'numpy'} for ${exe}`);
    process.exit(1);
  }
  pythons.push({ version, minor, base: exe, python: vpy, system: exe.startsWith('/usr/'), freeThreaded });
}
if (pythons.length === 0) {
  console.error('setup: no CPython >= 3.9 found; install one (pyenv or the distribution package)');
  process.exit(1);
}

// A CPython 3.14 (PEP 768 remote execution) in a Debian sid root file system: a target started with
// `unshare -m chroot` there stands in for a process in a container (another mount namespace).
const containerRoot = join(cache, 'sid-root');
const containerPython = join(containerRoot, 'usr', 'bin', 'python3.14');
if (!existsSync(containerPython)) {
  if (process.getuid?.() !== 0) {
    console.error('setup: the container tests need root (debootstrap, chroot, unshare)');
    process.exit(1);
  }
  const tmpRoot = `${containerRoot}.tmp`;
  run('rm', ['-rf', tmpRoot]);
  console.error('setup: creating a Debian sid root with python3.14 (about a minute)');
  const r = run('debootstrap', ['--variant=minbase', '--include=python3.14,libpython3.14-dev', 'sid', tmpRoot, 'http://deb.debian.org/debian'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) {
    console.error('setup: debootstrap failed');
    process.exit(1);
  }
  run('mv', [tmpRoot, containerRoot]);
}
// The real path: .cache may be a link to another clone's, and this file is read from every clone.
writeFileSync(join(cache, 'container.json'), JSON.stringify({ root: realpathSync(containerRoot), python: '/usr/bin/python3.14' }, null, 2));

// CPythons no package installs on the host: sid's 3.14 and 3.15 run from the sid root, free-threaded builds.
for (const minor of [14, 15]) {
  const p = sidPython(containerRoot, minor, join(cache, 'venv'));
  if (p !== undefined) pythons.push(p);
}
pythons.push(...(await freeThreaded));
writeFileSync(join(cache, 'pythons.json'), JSON.stringify(pythons, null, 2));
// Packages for the tests of the Python distribution (test/pip/).
setupWheelhouse(cache, pythons);
if (process.arch === 'x64') setupArm64Root(cache);
setupGoTools(root, cache);
const describe = (p) => p.version + (p.freeThreaded ? 't' : '') + (p.system ? ' (system)' : p.sid ? ' (sid)' : '');
console.error(`setup: Pythons for tests: ${pythons.map(describe).join(', ')}`);
