// A cache directory of the test process's own, removed when the process ends, for every memlens it starts
// (and for memlens code it runs in-process). memlens keeps its CLI code cache and the wheel launcher's node
// versions in $XDG_CACHE_HOME/memlens, its private files (the debugger probe's answer, attach sessions,
// live tokens) in $XDG_RUNTIME_DIR/memlens or there, else in ~/.cache/memlens (docs/security.md, "Files and
// permissions"): a test must leave the home it runs in as it found it. Imported for that effect by
// pythons.ts, which every process-level test uses, and by the few that do not.
//
// Set in process.env, so that every child inherits it, whichever way a test starts memlens (directly, through
// the `memlens` executable of a virtualenv, or as the CLI relaunches itself). XDG_CACHE_HOME is also where
// other tools keep their caches when theirs is not set: those are pinned to where they were (a go build,
// pip or uv starting from a cold cache costs minutes), and what is not pinned (chromium's disk cache) goes
// to the temporary directory with memlens's. An environment a test builds from nothing names it
// (test/support/pip.ts). A process that ends without its exit handlers (killed) leaves the directory in
// $TMPDIR, not in the home.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';

const before = process.env['XDG_CACHE_HOME'];
const home = process.env['HOME'];
const userCache = before !== undefined && isAbsolute(before) ? before : home !== undefined && isAbsolute(home) ? join(home, '.cache') : undefined;

/** Other tools' caches, by the variable that names each, and where they are by default under the cache home. */
const PINNED: Record<string, string> = { GOCACHE: 'go-build', PIP_CACHE_DIR: 'pip', UV_CACHE_DIR: 'uv', ZIG_GLOBAL_CACHE_DIR: 'zig' };

function isolate(): string {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-test-cache-'));
  if (userCache !== undefined) for (const [name, sub] of Object.entries(PINNED)) process.env[name] ??= join(userCache, sub);
  process.env['XDG_CACHE_HOME'] = dir;
  // $XDG_RUNTIME_DIR/memlens comes first for the private files: without it they go to the directory above.
  delete process.env['XDG_RUNTIME_DIR'];
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The XDG_CACHE_HOME of this test process and of every process it starts (memlens's files: its memlens/). */
export const TEST_CACHE_HOME: string = isolate();
