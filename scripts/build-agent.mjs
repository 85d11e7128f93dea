#!/usr/bin/env node
// Builds the in-process agent (agent/src/*.c → agent/build/libmemlens_agent.so) with the machine's C
// compiler. Runs as the package's install step; warnings are errors (the agent runs inside someone's
// production process). Set MEMLENS_AGENT_SANITIZE=address to build an AddressSanitizer variant.
// Beside it, the reports' mmap-threshold library (native/mmap_threshold.c → agent/build/libmemlens_mmap.so,
// docs/mmap-threshold.md): optional, so a failure to build it is said on stderr and the install goes on.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'agent', 'src');
const outDir = join(root, 'agent', 'build');

if (process.platform !== 'linux') {
  console.error(`memlens: the agent supports Linux only (this is ${process.platform}); reports still work on captures made elsewhere.`);
  process.exit(0);
}
if (!existsSync(srcDir)) process.exit(0);
const sources = readdirSync(srcDir).filter((f) => f.endsWith('.c')).sort().map((f) => join(srcDir, f));
if (sources.length === 0) process.exit(0);

// The capture header's writer version is memlens's own: package.json is its one home.
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
if (typeof version !== 'string' || !/^[0-9A-Za-z.+-]+$/.test(version)) {
  console.error(`memlens: package.json's version ${JSON.stringify(version)} is not a plain version string.`);
  process.exit(1);
}

const cc = process.env.CC || 'cc';
const sanitize = process.env.MEMLENS_AGENT_SANITIZE;
const name = sanitize ? `libmemlens_agent-${sanitize}.so` : 'libmemlens_agent.so';
mkdirSync(outDir, { recursive: true });
const tmp = join(outDir, `.${name}.${process.pid}.tmp`);
// The flags are shared with the Python package's builds (agent/cflags.json).
const cflags = JSON.parse(readFileSync(join(root, 'agent', 'cflags.json'), 'utf8'));
const flags = [
  ...cflags.flags,
  `-DML_WRITER_VERSION="${version}"`,
  ...(sanitize ? ['-O1', '-g', '-fno-omit-frame-pointer', `-fsanitize=${sanitize}`] : cflags.release),
  '-o', tmp, ...sources, ...cflags.libs,
];
const r = spawnSync(cc, flags, { stdio: 'inherit' });
if (r.error) {
  console.error(`memlens: cannot run the C compiler '${cc}' (${r.error.message}); install gcc or clang, or set CC.`);
  process.exit(1);
}
if (r.status !== 0) {
  console.error(`memlens: building the agent failed (${cc} exited with ${r.status}).`);
  process.exit(1);
}
renameSync(tmp, join(outDir, name));

// The reports' library (src/util/malloc-tuning.ts loads it), with the agent's flags: the reports run
// without it (glibc's own threshold, a higher peak) where it cannot be built, e.g. on musl. Not with a
// sanitizer: that builds the agent's variant alone.
const mmapSource = join(root, 'native', 'mmap_threshold.c');
if (!sanitize && existsSync(mmapSource)) {
  const mmapName = 'libmemlens_mmap.so';
  const mmapTmp = join(outDir, `.${mmapName}.${process.pid}.tmp`);
  const m = spawnSync(cc, [...cflags.flags, ...cflags.release, '-o', mmapTmp, mmapSource], { stdio: 'inherit' });
  if (m.error === undefined && m.status === 0) renameSync(mmapTmp, join(outDir, mmapName));
  else {
    rmSync(mmapTmp, { force: true });
    console.error(`memlens: building ${mmapName} failed (${cc} ${m.error ? m.error.message : `exited with ${m.status}`}); the reports work without it, with a higher peak (docs/mmap-threshold.md).`);
  }
}

// The bootstrap's Python modules, compiled once here for the python3 on PATH (`memlens run`'s default
// interpreter): the bootstrap imports them without writing __pycache__ (memlens's directory may be
// read-only by then), so without this every run compiled them again, about 4 ms of its fixed cost
// (docs/benchmarks.md, "Fixed cost"). Another interpreter, or a changed source, compiles as before: Python
// checks the version and the source's time and size. Best effort: no python3 here is no error.
const python = join(root, 'agent', 'python');
if (existsSync(python)) spawnSync('python3', ['-m', 'compileall', '-q', python], { stdio: 'ignore' });
