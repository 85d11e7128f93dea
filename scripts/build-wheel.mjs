#!/usr/bin/env node
// Builds the Python distribution of memlens into dist/python/: the sdist and one wheel per architecture
// (docs/python-packaging.md). Needs `npm run build` first (dist/src, dist/viewer).
//   node scripts/build-wheel.mjs [--arch x86_64,aarch64] [--out DIR]
// The agent (and the reports' mmap-threshold library, native/mmap_threshold.c) is compiled with zig cc
// against glibc 2.28's symbols (tag manylinux_2_28) and each wheel is checked with auditwheel; both tools come from PyPI into .cache/build-tools (created on first use).
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleCli, CLI_BUNDLES } from './cli-bundle.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { arch: { type: 'string', default: 'x86_64,aarch64' }, out: { type: 'string', default: join(root, 'dist', 'python') } } });
const arches = values.arch.split(',').filter((a) => a !== '');
const out = resolve(values.out);
const GLIBC = '2.28';
// Pinned: the wheel's agent is what these versions make.
const TOOLS = ['ziglang==0.17.1', 'auditwheel==6.8.2'];
const ZIG_TARGET = { x86_64: 'x86_64-linux-gnu', aarch64: 'aarch64-linux-gnu' };

function fail(message) {
  console.error(`build-wheel: ${message}`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error) fail(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.slice(0, 3).join(' ')} ... failed (exit ${r.status}):\n${r.stderr ?? ''}${r.stdout ?? ''}`);
  return r.stdout ?? '';
}

for (const a of arches) if (!(a in ZIG_TARGET)) fail(`unknown --arch '${a}' (x86_64 or aarch64)`);
const pkgVersion = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const pyVersion = /__version__ = "([^"]+)"/.exec(readFileSync(join(root, 'python', 'memlens', '_version.py'), 'utf8'))?.[1];
if (pyVersion !== pkgVersion) fail(`python/memlens/_version.py says ${pyVersion}, package.json ${pkgVersion}: make them equal`);
for (const f of ['dist/src/cli/bin.js', 'dist/viewer/viewer.js', 'dist/viewer/live.js']) {
  if (!existsSync(join(root, f))) fail(`${f} is missing: run 'npm run build' first`);
}

/** A virtualenv with the build tools, made once. */
function tools() {
  const venv = join(root, '.cache', 'build-tools');
  const python = join(venv, 'bin', 'python3');
  const ready = join(venv, `.ready-${TOOLS.join('-')}`);
  if (!existsSync(ready)) {
    if (!existsSync(python)) run('python3', ['-m', 'venv', venv]);
    run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', ...TOOLS]);
    run('touch', [ready]);
  }
  return python;
}

const python = tools();
const stage = join(out, 'stage');
rmSync(stage, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) if (/^memlens-.*\.(whl|tar\.gz)$/.test(f)) rmSync(join(out, f));

// The stage: the sdist's tree. The Python package, the README as its description, the agent's sources.
mkdirSync(stage, { recursive: true });
for (const f of ['pyproject.toml', 'memlens_build.py']) copyFileSync(join(root, 'python', f), join(stage, f));
cpSync(join(root, 'python', 'memlens'), join(stage, 'memlens'), { recursive: true, filter: (p) => !p.includes('__pycache__') });
copyFileSync(join(root, 'README.md'), join(stage, 'README.md'));
mkdirSync(join(stage, 'agent-src'));
for (const f of readdirSync(join(root, 'agent', 'src'))) if (/\.[ch]$/.test(f)) copyFileSync(join(root, 'agent', 'src', f), join(stage, 'agent-src', f));
copyFileSync(join(root, 'agent', 'cflags.json'), join(stage, 'agent-src', 'cflags.json'));
// The reports' library, apart: memlens_build.py compiles every .c file of agent-src/ into the agent.
mkdirSync(join(stage, 'native-src'));
copyFileSync(join(root, 'native', 'mmap_threshold.c'), join(stage, 'native-src', 'mmap_threshold.c'));

// The payload, laid out as the npm package (src/util/package-root.ts): the CLI as one script, the viewer,
// the agent's Python side.
const payload = join(stage, 'memlens', '_payload');
// The CLI: the same CommonJS bundles and loader as the npm package (bin/memlens.js starts dist/memlens.cjs,
// or dist/memlens-reports.cjs for a report, through bin/cli-bundle.js), so it starts as fast, without node's
// ES module loader. No code cache beside them: V8 takes one only from the very node version that made it,
// and the wheel runs under whichever node it finds; the first command makes one for that node in the user's
// cache directory (bin/cli-bundle.js).
for (const { file, reports } of CLI_BUNDLES) {
  await bundleCli({
    root,
    outfile: join(payload, 'dist', file),
    reports,
    define: { __MEMLENS_BUNDLE__: 'true' },
    banner: '// memlens CLI, bundled from dist/src by scripts/build-wheel.mjs (the sources: https://www.npmjs.com/package/memlens).',
  });
}
mkdirSync(join(payload, 'bin'), { recursive: true });
for (const f of ['memlens.js', 'cli-bundle.js', 'package.json']) copyFileSync(join(root, 'bin', f), join(payload, 'bin', f));
mkdirSync(join(payload, 'dist', 'viewer'), { recursive: true });
for (const f of ['viewer.js', 'viewer-style.css', 'live.js', 'live-style.css']) copyFileSync(join(root, 'dist', 'viewer', f), join(payload, 'dist', 'viewer', f));
mkdirSync(join(payload, 'agent', 'python'), { recursive: true });
for (const f of readdirSync(join(root, 'agent', 'python'))) if (f.endsWith('.py')) copyFileSync(join(root, 'agent', 'python', f), join(payload, 'agent', 'python', f));

const backend = (call) => run(python, ['-c', `import sys; sys.path.insert(0, '.'); import memlens_build as b; print(${call})`], { cwd: stage }).trim();
const made = [backend(`b.build_sdist(${JSON.stringify(out)})`)];

// One wheel per architecture, its agent built by zig against glibc 2.28 and checked by auditwheel.
const cflags = JSON.parse(readFileSync(join(root, 'agent', 'cflags.json'), 'utf8'));
const sources = readdirSync(join(root, 'agent', 'src')).filter((f) => f.endsWith('.c')).sort().map((f) => join(root, 'agent', 'src', f));
for (const arch of arches) {
  const so = join(out, `libmemlens_agent-${arch}.so`);
  run(python, ['-m', 'ziglang', 'cc', '-target', `${ZIG_TARGET[arch]}.${GLIBC}`, ...cflags.flags, `-DML_WRITER_VERSION="${pkgVersion}"`, ...cflags.release, '-o', so, ...sources, ...cflags.libs]);
  // The reports' library: here a failure fails the build (a wheel without it would report with a higher
  // peak); only an install from the sdist or npm goes on without it.
  const mmapSo = join(out, `libmemlens_mmap-${arch}.so`);
  run(python, ['-m', 'ziglang', 'cc', '-target', `${ZIG_TARGET[arch]}.${GLIBC}`, ...cflags.flags, ...cflags.release, '-o', mmapSo, join(root, 'native', 'mmap_threshold.c')]);
  const plat = `manylinux_${GLIBC.replace('.', '_')}_${arch}`;
  const wheel = backend(`b.build_wheel(${JSON.stringify(out)}, {"agent": ${JSON.stringify(so)}, "mmap": ${JSON.stringify(mmapSo)}, "plat": ${JSON.stringify(plat)}})`);
  const shown = run(python, ['-m', 'auditwheel', 'show', join(out, wheel)]).replace(/\s+/g, ' ');
  // "... is consistent with the following platform tag: "manylinux_2_26_x86_64"" (the oldest it allows).
  const m = /consistent with the following platform tag: "manylinux_(\d+)_(\d+)_(\w+)"/.exec(shown);
  if (m === null || m[3] !== arch) fail(`auditwheel does not confirm ${wheel}:\n${shown}`);
  if (Number(m[1]) * 1000 + Number(m[2]) > 2028) fail(`auditwheel says ${wheel} needs glibc ${m[1]}.${m[2]}, newer than its tag:\n${shown}`);
  console.error(`build-wheel: ${wheel}: auditwheel allows manylinux_${m[1]}_${m[2]}_${m[3]} and newer`);
  rmSync(so);
  rmSync(mmapSo);
  made.push(wheel);
}
rmSync(stage, { recursive: true, force: true });
for (const f of made) console.log(join(out, f));
