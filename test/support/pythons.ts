// The CPythons the tests run against: .cache/pythons.json, written by scripts/setup-test-env.mjs (npm test
// runs it first): the machine's own (pyenv, /usr/bin/python3), Debian sid's 3.14 and 3.15, and free-threaded
// builds (scripts/setup-pythons.mjs). Each has a virtualenv with numpy.

import { existsSync, readFileSync } from 'node:fs';
// For its effect: memlens's cache files in a directory of this process's own, not in the home (cache-home.ts).
import './cache-home.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/test/support/). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface TestPython {
  readonly version: string;
  readonly minor: number;
  /** The interpreter the virtualenv was made from. */
  readonly base: string;
  /** The virtualenv's python3 (numpy installed). */
  readonly python: string;
  /** Debian's /usr/bin/python3 (libpython linked into the executable). */
  readonly system: boolean;
  /** A free-threaded build (3.13t and later, built by scripts/setup-pythons.mjs): no GIL, mimalloc. */
  readonly freeThreaded: boolean;
  /** Debian sid's interpreter from the sid root, run on the host (scripts/setup-pythons.mjs). */
  readonly sid?: boolean;
}

let cached: TestPython[] | undefined;

export function testPythons(): TestPython[] {
  if (cached !== undefined) return cached;
  const file = join(REPO_ROOT, '.cache', 'pythons.json');
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run 'node scripts/setup-test-env.mjs' (npm test does it) to create the test virtualenvs`);
  }
  const list = (JSON.parse(readFileSync(file, 'utf8')) as TestPython[]).map((p) => ({ ...p, freeThreaded: p.freeThreaded === true }));
  cached = list.sort((a, b) => a.minor - b.minor || Number(a.freeThreaded) - Number(b.freeThreaded) || Number(a.system) - Number(b.system));
  return cached;
}

/**
 * The interpreters the heavy process-level files run on: the oldest, the newest with the GIL and the newest
 * free-threaded build (each of these when the machine has one). They span the layouts the agent reads
 * (per-version tables before 3.13, _Py_DebugOffsets after, the free-threaded object header and mimalloc), and
 * running every file on every interpreter would take the suite past its half hour on two cores. Every
 * interpreter still gets the short checks (stacks.test, allocations.test, census.test, one attach and detach
 * in attach.test, the wheel installed and run). MEMLENS_TEST_PYTHONS=all runs the heavy files on all of them.
 */
export function corePythons(): TestPython[] {
  const all = testPythons();
  if (process.env['MEMLENS_TEST_PYTHONS'] === 'all') return all;
  const gil = all.filter((p) => !p.freeThreaded && !p.system);
  const picked = [gil[0], gil[gil.length - 1], all.filter((p) => p.freeThreaded).slice(-1)[0]];
  return all.filter((p) => picked.includes(p));
}

/** Whether `p` is one of corePythons(). */
export function isCorePython(p: TestPython): boolean {
  return corePythons().includes(p);
}

/** A short label for test names: "3.11.7", "3.11.2 (system)", "3.15.2 (sid)" or "3.13.15t". */
export function label(p: TestPython): string {
  const version = p.freeThreaded ? `${p.version}t` : p.version;
  return p.system ? `${version} (system)` : p.sid === true ? `${version} (sid)` : version;
}

/**
 * The bytes bytearray(n) asks its allocator for: n + 1 (the buffer and its NUL); from 3.15 on a bytearray
 * keeps its buffer in a bytes object, so the bytes object's header too (32 bytes, 48 in a free-threaded
 * build, whose object header is 16 bytes longer).
 */
export function bytearraySize(p: Pick<TestPython, 'minor' | 'freeThreaded'>, n: number): number {
  return p.minor >= 15 ? n + 1 + (p.freeThreaded ? 48 : 32) : n + 1;
}

/**
 * How far a line's recorded bytes may exceed the buffers it allocates, per allocation: a free-threaded
 * build's Python objects come from mimalloc, which the agent records in every mode (the bytearray object
 * around its buffer, the int ctypes returns), as --trace-python-allocators does on a GIL build.
 */
export function objectSlack(p: Pick<TestPython, 'freeThreaded'>, allocations = 1): number {
  return p.freeThreaded ? 256 * allocations : 0;
}

/** Asserts want <= actual <= want + slack. */
export function assertBytes(actual: number | undefined, want: number, slack: number, what: string): void {
  const a = actual ?? 0;
  if (a < want || a > want + slack) {
    throw new Error(`${what}: ${a} bytes, expected ${slack === 0 ? want : `${want} to ${want + slack}`}`);
  }
}
