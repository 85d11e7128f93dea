// The corpus: realistic programs, each with one known cause of memory use (test/corpus/programs/, the
// cause on the line marked CAUSE), run for real as a user would (`memlens run`, under `--memory-limit`
// until the kernel's OOM killer ends them, or seen through `memlens attach` while they run), and the two
// examples as their docstrings say. The verdict must name the right cause at the right line, and the clean
// programs (a plateau, a sawtooth, a bounded cache, streaming) must get no finding at all.
//
// The programs' shapes do not depend on the machine's speed: phases that must be long relative to others
// are timed by the program itself (three times what the first phase took), and an attach lasts a number
// of the program's own ticks. The CPythons alternate over the programs (numpy_partitions_oom runs on the
// oldest and the newest too, whose numpy differs). Sizes are small (at most 128 MiB).
// Where the kind of a finding depends on the machine's pace all the same (callback_registry: a collection
// whose growth starts half-way reads as an accumulation when a busy machine slows its second half more than
// its first; docs/reports.md "Which finding, on a busy machine"), the test accepts both kinds and checks what
// the capture determines whatever the pace: the line, and the entries added and kept.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { COLLECTION_KEPT_SHARE, COLLECTION_MIN_ITEMS } from '../../src/analysis/findings/collection-evidence.js';
import { main } from '../../src/cli/main.js';
import { NODE_FLAGS } from '../../src/util/node-flags.js';
import { memoryIo } from '../support/memory-io.js';
import { lineOf, MEMLENS_BIN, memlensRun, tempDir } from '../support/memlens-run.js';
import { keepCaptureOnFailure } from '../support/failed-capture.js';
import { label, REPO_ROOT, type TestPython, testPythons } from '../support/pythons.js';

interface Frame {
  readonly function: string;
  readonly file: string;
  readonly line: number;
}
interface FindingJson {
  readonly kind: string;
  readonly items?: readonly {
    readonly line?: Frame;
    readonly maker?: Frame;
    readonly leaf?: Frame | null;
    readonly held_as?: { readonly type: string } | null;
    readonly bytes?: number;
    readonly count?: number;
    readonly added?: number;
    readonly growth_bytes?: number;
  }[];
  readonly line?: Frame;
  readonly leaf?: Frame | null;
  readonly freed?: readonly { readonly line: Frame | null }[];
}
interface VerdictJson {
  readonly ending: { readonly kind: string; readonly oom_kill: string };
  readonly recent_growth: { readonly lines: readonly (Frame & { readonly via: Frame | null })[] } | null;
  readonly census: { readonly label: string } | null;
  readonly findings: readonly FindingJson[];
}

type How = { readonly run: 'plain' } | { readonly run: 'oom'; readonly limit: string } | { readonly run: 'attach'; readonly aggregate: boolean };

interface Expect {
  /** The one finding expected (null: none at all), at the CAUSE line of the program. */
  readonly kind: string | null;
  /** Other kinds accepted in its place (the same cause told from other evidence). */
  readonly or?: readonly string[];
  /** The library frame that allocated below the program's line. */
  readonly via?: string;
  /** The census's type that holds the memory (near-OOM census). */
  readonly heldAs?: string;
  /** The finding's line is a collection that only grows: many entries live at the end, nearly all added and kept. */
  readonly collection?: boolean;
}

interface Case {
  readonly program: string;
  readonly how: How;
  readonly expect: Expect;
  /** The file (default test/corpus/programs/<program>.py) and the marker of the expected line. */
  readonly path?: string;
  readonly marker?: string;
  /** The CPython to run it on: the oldest or the newest with the GIL (default: they alternate over the cases). */
  readonly on?: 'oldest' | 'newest';
}

const PROGRAMS = join(REPO_ROOT, 'test', 'corpus', 'programs');
const CASES: readonly Case[] = [
  { program: 'list_accumulation_oom', how: { run: 'oom', limit: '96M' }, expect: { kind: 'accumulation', heldAs: 'bytes' } },
  { program: 'dict_cache_oom', how: { run: 'oom', limit: '96M' }, expect: { kind: 'accumulation', heldAs: 'bytes' } },
  { program: 'numpy_partitions_oom', how: { run: 'oom', limit: '128M' }, expect: { kind: 'accumulation', via: 'ones', heldAs: 'numpy.ndarray' } },
  { program: 'thread_local', how: { run: 'oom', limit: '96M' }, expect: { kind: 'accumulation', heldAs: 'bytes' } },
  { program: 'huge_temporary_oom', how: { run: 'oom', limit: '128M' }, expect: { kind: 'huge-allocation', via: 'ones' } },
  { program: 'class_attribute', how: { run: 'plain' }, expect: { kind: 'accumulation' } },
  { program: 'closure_leak', how: { run: 'plain' }, expect: { kind: 'accumulation' } },
  { program: 'web_render_cache', how: { run: 'plain' }, expect: { kind: 'accumulation' } },
  { program: 'callback_registry', how: { run: 'plain' }, expect: { kind: 'growing-collection', or: ['accumulation'], collection: true } },
  { program: 'kept_arrays', how: { run: 'plain' }, expect: { kind: 'large-objects-kept' } },
  { program: 'fragmentation', how: { run: 'plain' }, expect: { kind: 'freed-not-returned' } },
  { program: 'session_service', how: { run: 'attach', aggregate: true }, expect: { kind: 'accumulation' } },
  { program: 'session_service', how: { run: 'attach', aggregate: false }, expect: { kind: 'accumulation' } },
  { program: 'plateau', how: { run: 'plain' }, expect: { kind: null } },
  { program: 'sawtooth', how: { run: 'plain' }, expect: { kind: null } },
  { program: 'bounded_lru', how: { run: 'plain' }, expect: { kind: null } },
  { program: 'streaming_chunks', how: { run: 'plain' }, expect: { kind: null } },
  // The examples, as their docstrings say to run them.
  { program: 'batch_oom', path: join(REPO_ROOT, 'examples', 'batch_oom.py'), marker: 'return [bytes(800)', how: { run: 'oom', limit: '200M' }, expect: { kind: 'accumulation', heldAs: 'bytes' } },
  { program: 'leaky_service', path: join(REPO_ROOT, 'examples', 'leaky_service.py'), marker: 'CACHE[i] = ', how: { run: 'plain' }, expect: { kind: 'accumulation', or: ['growing-collection'] } },
  // A numpy OOM on the oldest and the newest CPython too (a few seconds each): numpy's versions differ
  // there (numpy 2.0's OpenBLAS maps its worker buffers from the worker threads, outside any import).
  { program: 'numpy_partitions_oom', on: 'oldest', how: { run: 'oom', limit: '128M' }, expect: { kind: 'accumulation', via: 'ones', heldAs: 'numpy.ndarray' } },
  { program: 'numpy_partitions_oom', on: 'newest', how: { run: 'oom', limit: '128M' }, expect: { kind: 'accumulation', via: 'ones', heldAs: 'numpy.ndarray' } },
];

/** The findings about memory, whose line the corpus checks; the others (threads, GC, reallocation) are
 * allowed only where a program also has that pattern (leaky_service's list grown by appends). */
const ALSO_ALLOWED: Readonly<Record<string, readonly string[]>> = { leaky_service: ['collection-growth'] };

const tmp = tempDir('memlens-corpus-');
after(() => tmp.remove());
const pythons = testPythons();

/** The CPython of the case at `i`. */
function pythonOf(c: Case, i: number): TestPython {
  const gil = pythons.filter((p) => !p.freeThreaded && !p.system);
  if (c.on === 'oldest') return gil[0]!;
  if (c.on === 'newest') return gil[gil.length - 1]!;
  return pythons[i % pythons.length]!;
}

async function verdictOf(capture: string): Promise<VerdictJson> {
  const io = memoryIo({ cwd: tmp.dir });
  assert.equal(await main(['verdict', '--json', capture], io), 0, io.err());
  return JSON.parse(io.out()) as VerdictJson;
}

async function runCase(c: Case, py: TestPython, source: string, capture: string): Promise<void> {
  const how = c.how;
  if (how.run === 'attach') {
    await attachCase(py, c.path ?? join(PROGRAMS, `${c.program}.py`), capture, how.aggregate);
    return;
  }
  const r = await memlensRun(
    {
      python: py.python,
      files: { [`${c.program}.py`]: source },
      program: [`${c.program}.py`],
      runArgs: how.run === 'oom' ? ['--memory-limit', how.limit] : [],
      output: capture.slice(capture.lastIndexOf('/') + 1),
      timeoutMs: 180_000,
    },
    tmp.dir,
  );
  if (how.run === 'oom') {
    assert.doesNotMatch(r.stderr, /cannot create a memory cgroup/, 'this test needs a child memory cgroup (root, cgroup v2 or v1 memory)');
    assert.equal(r.signal, 'SIGKILL', `${c.program}: ${r.stderr}`);
  } else assert.equal(r.code, 0, `${c.program}: ${r.stderr}`);
}

/**
 * Starts the program (it prints "ready PID", then "tick N" per tick), attaches, lets it run 12 of its
 * ticks (3 s at its pace, longer on a slow machine), detaches, and ends it.
 */
async function attachCase(py: TestPython, program: string, capture: string, aggregate: boolean): Promise<void> {
  const child = spawn(py.python, [program], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const tick = (): number => Number([...out.matchAll(/tick (\d+)/g)].at(-1)?.[1] ?? 0);
  const waitFor = async (ok: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 120_000; // a guard against a hang, not a measure
    while (!ok()) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${what}: ${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    await waitFor(() => tick() >= 1, 'the program did not start');
    const pid = Number(/ready (\d+)/.exec(out)?.[1]);
    // memlens runs beside this loop, not blocking it: the ticks printed while the attach is under way must be
    // read as they come, or the count taken after it would be behind and the capture would span fewer ticks.
    const memlens = (args: readonly string[]): Promise<{ status: number | null; stderr: string }> =>
      new Promise((done, fail) => {
        const m = spawn(process.execPath, [...NODE_FLAGS, MEMLENS_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
        let stderr = '';
        m.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        m.on('error', fail);
        m.on('close', (status) => done({ status, stderr }));
      });
    const a = await memlens(['attach', String(pid), '-o', capture, ...(aggregate ? ['--aggregate'] : [])]);
    assert.equal(a.status, 0, a.stderr);
    const from = tick();
    await waitFor(() => tick() >= from + 12, 'the program stopped ticking');
    const d = await memlens(['detach', String(pid)]);
    assert.equal(d.status, 0, d.stderr);
  } finally {
    child.kill('SIGKILL');
  }
}

/** The program's own line a finding is about, and the library frame beside it. */
function lineOfFinding(f: FindingJson): { line: Frame | undefined; leaf: Frame | null | undefined; heldAs: string | undefined } {
  const item = f.items?.[0];
  if (item !== undefined) return { line: item.line ?? item.maker, leaf: item.leaf, heldAs: item.held_as?.type };
  if (f.line !== undefined) return { line: f.line, leaf: f.leaf, heldAs: undefined };
  return { line: f.freed?.[0]?.line ?? undefined, leaf: undefined, heldAs: undefined };
}

describe('the corpus: each program gets the verdict of its known cause, the clean ones none', () => {
  CASES.forEach((c, i) => {
    const py = pythonOf(c, i);
    const how = c.how.run === 'attach' ? `attach${c.how.aggregate ? ' --aggregate' : ''}` : c.how.run === 'oom' ? `--memory-limit ${c.how.limit}` : 'run';
    test(`${c.program} (${how}, CPython ${label(py)}): ${c.expect.kind ?? 'no finding'}`, async () => {
      const path = c.path ?? join(PROGRAMS, `${c.program}.py`);
      const source = readFileSync(path, 'utf8');
      const capture = join(tmp.dir, `${c.program}-${i}.mlens`);
      await runCase(c, py, source, capture);
      await keepCaptureOnFailure(capture, `${c.program}-${label(py).replace(/[^\w.]+/g, '_')}`, () => checkVerdict(c, path, source, capture));
    });
  });
});

/** The case's verdict, checked against what the corpus says of the program. */
async function checkVerdict(c: Case, path: string, source: string, capture: string): Promise<void> {
  const v = await verdictOf(capture);
  const kinds = v.findings.map((f) => f.kind);
  const e = c.expect;
  if (e.kind === null) {
    assert.deepEqual(kinds, [], `a clean program: ${JSON.stringify(v.findings, null, 1).slice(0, 2000)}`);
    return;
  }
  const accepted = [e.kind, ...(e.or ?? [])];
  const mine = v.findings.filter((f) => accepted.includes(f.kind));
  assert.equal(mine.length, 1, `one ${accepted.join(' or ')} finding among ${kinds.join(', ') || 'none'}`);
  assert.deepEqual(
    kinds.filter((k) => !accepted.includes(k) && !(ALSO_ALLOWED[c.program] ?? []).includes(k)),
    [],
    'no other finding',
  );
  const { line, leaf, heldAs } = lineOfFinding(mine[0]!);
  const want = lineOf(source, c.marker ?? 'CAUSE');
  assert.ok(line !== undefined, 'the finding names a line');
  assert.ok(line.file.endsWith(path.slice(path.lastIndexOf('/') + 1)), `${line.file}`);
  assert.equal(line.line, want, `the finding is about line ${line.line} (${line.function}), not the CAUSE line ${want}`);
  if (e.via !== undefined) assert.equal(leaf?.function, e.via, 'the library frame beside the program line');
  if (e.collection === true) {
    // Whichever finding names it: the entries live at the end, and (by count, or by the bytes of entries of
    // one size) nearly all of them added during the run and kept.
    const item = mine[0]!.items?.[0];
    assert.ok((item?.count ?? 0) >= COLLECTION_MIN_ITEMS, `${item?.count} entries live at the end`);
    const kept = mine[0]!.kind === 'growing-collection' ? (item?.added ?? 0) / (item?.count ?? 1) : (item?.growth_bytes ?? 0) / (item?.bytes ?? 1);
    assert.ok(kept >= COLLECTION_KEPT_SHARE, `${kept} of the entries added and kept`);
  }
  if (c.how.run === 'oom') {
    assert.equal(v.ending.oom_kill, 'yes');
    // What grew names the program's own line first, with the library frame beside it.
    const top = v.recent_growth?.lines[0];
    assert.equal(top?.line, want, JSON.stringify(top));
    if (e.via !== undefined) assert.equal(top?.via?.function, e.via);
  }
  if (e.heldAs !== undefined) {
    assert.equal(v.census?.label, 'near-oom', 'the agent took a census near the OOM');
    assert.equal(heldAs, e.heldAs, 'the census names the type that holds the memory');
  }
}
