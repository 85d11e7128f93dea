#!/usr/bin/env node
// Builds the in-process agent (agent/src/*.c → agent/build/libmemlens_agent.so) with the machine's C
// compiler. Runs as the package's install step; warnings are errors (the agent runs inside someone's
// production process). Set MEMLENS_AGENT_SANITIZE=address to build an AddressSanitizer variant.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
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

const cc = process.env.CC || 'cc';
const sanitize = process.env.MEMLENS_AGENT_SANITIZE;
const name = sanitize ? `libmemlens_agent-${sanitize}.so` : 'libmemlens_agent.so';
mkdirSync(outDir, { recursive: true });
const tmp = join(outDir, `.${name}.${process.pid}.tmp`);
const flags = [
  '-std=c11', '-D_GNU_SOURCE', '-fPIC', '-shared', '-pthread',
  '-Wall', '-Wextra', '-Werror', '-Wshadow', '-Wstrict-prototypes', '-Wmissing-prototypes', '-Wvla',
  '-fvisibility=hidden', '-fno-strict-aliasing', '-ftls-model=initial-exec',
  ...(sanitize ? ['-O1', '-g', '-fno-omit-frame-pointer', `-fsanitize=${sanitize}`] : ['-O2', '-g']),
  '-o', tmp, ...sources, '-ldl', '-lm',
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
