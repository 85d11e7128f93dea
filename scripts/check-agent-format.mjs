#!/usr/bin/env node
// Checks that memlens's C code (agent/src, agent/test, native: the reports' mmap-threshold library) is formatted as .clang-format says; with --fix,
// formats it. test/agent/format.test.ts runs the check. Made with clang-format 14 (Debian 12's; the test
// environment installs it): another version may format a few constructs differently.
// Usage: node scripts/check-agent-format.mjs [--fix] [FILE...]   (default: every agent C file)
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const fix = args.includes('--fix');
const named = args.filter((a) => !a.startsWith('--'));
const files =
  named.length > 0
    ? named
    : [join(root, 'agent', 'src'), join(root, 'agent', 'test'), join(root, 'native')].flatMap((dir) =>
        readdirSync(dir)
          .filter((f) => /\.[ch]$/.test(f))
          .sort()
          .map((f) => join(dir, f)),
      );
const clangFormat = process.env.CLANG_FORMAT || 'clang-format';
const style = `--style=file:${join(root, '.clang-format')}`;
const r = spawnSync(clangFormat, fix ? [style, '-i', ...files] : [style, '--dry-run', '--Werror', ...files], { encoding: 'utf8' });
if (r.error) {
  console.error(`check-agent-format: cannot run ${clangFormat} (${r.error.message}): install it (apt-get install clang-format) or set CLANG_FORMAT.`);
  process.exit(2);
}
if (r.status !== 0) {
  const bad = [...new Set([...r.stderr.matchAll(/^(.+?):\d+:\d+: (?:error|warning)/gm)].map((m) => relative(root, m[1] ?? '')))];
  process.stderr.write(r.stderr.split('\n').slice(0, 40).join('\n') + '\n');
  console.error(`check-agent-format: ${bad.length > 0 ? bad.join(', ') : 'some files'} ${bad.length === 1 ? 'is' : 'are'} not formatted as .clang-format says: run node scripts/check-agent-format.mjs --fix`);
  process.exit(1);
}
if (!fix) console.log(`check-agent-format: ${files.length} files formatted as .clang-format says`);
