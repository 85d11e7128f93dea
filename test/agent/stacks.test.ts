// Python stacks at the edges: recursion 5,000 deep, a deep stack regrown to the same frame addresses and the
// same frames pushed again above a caller whose line changed (the agent's walk cache; again with a chain long
// enough for the check's prefetching loop), non-ASCII file and function names.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type Frame, Oracle } from '../support/agent-oracle.js';
import { lineOf, memlensRun, tempDir } from '../support/memlens-run.js';
import { bytearraySize, label, testPythons } from '../support/pythons.js';
import { CODE_NAME_PROG, CODE_REUSE_PROG, DEEP_PROG, GEN_CALLERS_PROG, REGROW_PROG, SAME_TOP_PROG, topMidLeafProg, type TopMidLeaf } from './programs.js';

const UNICODE_FILE = 'données_π.py';
const UNICODE = `KEEP = []


def функция_λ():
    KEEP.append(bytearray(555_555))  # HERE


class Ünïcode:
    def méthode(self):
        функция_λ()


Ünïcode().méthode()
print("ok")
`;

/**
 * SAME_TOP_PROG's shape with a chain past the check's prefetching length (pyframes.c, ML_CHECK_FAR: 2,048 frames):
 * the same 2,101 frames of `mid` pushed again at the same addresses above a caller whose line changed, 60 frames
 * from the root; and each stack allocated at twice from one instruction, so that the second walk finds the whole
 * chain as cached. The changed caller is not left to the prefetching loop here: on the way up, CPython allocates a
 * data stack chunk every 127-136 frames (an event, traced or not, 3.11-3.15), and the first (48-180 frames above the
 * caller) shows the change to a check of at most 250 entries, which mends the cache before the long checks run. With
 * Python's allocators traced, 3.11-3.13's `for` makes its range iterator at LEAF's loop line: the leaf's step, whose
 * first check is the prefetching one of the whole chain (3.14+ make none). FAR_PATHS is the test of that loop.
 */
const FAR_TOP = topMidLeafProg({
  depth: 60,
  chain: 2_100,
  recursionLimit: 10_000,
  leaf: `KEEP = []
SIZES = [(200_000 + i, 300_000 + i) for i in range(3)]


def leaf(size):
    for _ in range(2):
        KEEP.append(bytearray(size))  # LEAF
`,
});

/**
 * The leaf's step (pyframes.c): the same leaf frame, at the same address, allocating from another instruction than
 * the last event's, with the chain below it cached. Each call of `leaf` allocates at FIRST, then at SECOND (an int
 * and a bytearray), so between two events of one call only the leaf's instruction moves; between the last event of
 * one call (SECOND) and the first of the next (FIRST), the leaf is pushed again at the same address above the same
 * 11 frames of `mid`, and `top`'s line changed too (SITE A, SITE C), 11 frames below the leaf: only a step that
 * checks the chain below the leaf sees it. With Python's allocators traced, the first event of a call is the
 * bytearray object's, before its buffer's: every event in `leaf` is checked, against the buffer that follows it in
 * the same call (the stores free the old bytearrays, and allocate nothing else).
 */
const LEAF_STEP = topMidLeafProg({
  depth: 30,
  chain: 10,
  leaf: `KEEP = [None, None]
SIZES = [(200_000 + 10 * i, 300_000 + 10 * i) for i in range(3)]


def leaf(size):
    KEEP[0] = bytearray(size)  # FIRST
    KEEP[1] = bytearray(size + 1)  # SECOND
`,
  loop: 'for a, c in SIZES:',
  sites: [
    ['a', 'SITE A'],
    ['c', 'SITE C'],
  ],
});

/** PUSH_POP's kept slots and sizes, and its leaves (FAR_PATHS has them too). */
/** PUSH_POP's calls: `top` passes the leaf and its sizes down to `mid` (FAR_PATHS's too). */
const PUSH_POP_SHAPE: Pick<TopMidLeaf, 'midArgs' | 'topArgs' | 'loop' | 'sites'> = {
  midArgs: 'size, leaf',
  topArgs: 'leaf, sizes',
  loop: 'for a, c in sizes:',
  sites: [
    ['a, leaf', 'SITE A'],
    ['c, leaf', 'SITE C'],
  ],
};
const PUSH_POP_SIZES = `KEEP = [None, None]
SIZES = [(200_000 + 10 * i, 300_000 + 10 * i) for i in range(3)]
SIZES_2 = [(a + 5, c + 5) for a, c in SIZES]
`;
const PUSH_POP_CALLS = `

def callee(size):
    KEEP[1] = bytearray(size + 1)  # CALLEE


def first_then_call(size):
    KEEP[0] = bytearray(size)  # FIRST
    callee(size)  # CALL AFTER


def call_then_last(size):
    callee(size)  # CALL BEFORE
    KEEP[0] = bytearray(size + 4)  # LAST
`;

/**
 * A frame pushed or popped between two events (pyframes.c, leaf_moved), with the caller 12 frames below the leaf on
 * another line. `first_then_call` allocates, then calls `callee`, which allocates: its first event comes after the
 * last event of the call before, in `callee`, so its frame is the cached leaf's caller (one popped) at another
 * instruction; `call_then_last` calls `callee` first (allocating nothing before it, traced or not): its frame,
 * pushed again at the cached leaf's address, is the caller of the new leaf (one pushed), at another instruction. Between the calls `top`'s line changes (SITE A, SITE C)
 * and the 11 frames of `mid` are pushed again at the same addresses with the same words: only a path that checks the
 * chain below the caller sees it. With Python's allocators traced, a call's first event is the bytearray object's,
 * before its buffer's: every event under `mid` is checked against the buffer that follows it.
 */
const PUSH_POP = topMidLeafProg({
  depth: 30,
  chain: 10,
  leaf: `${PUSH_POP_SIZES}${PUSH_POP_CALLS}`,
  ...PUSH_POP_SHAPE,
  roots: [
    ['first_then_call, SIZES', 'ROOT 1'],
    ['call_then_last, SIZES_2', 'ROOT 2'],
  ],
});

/**
 * PUSH_POP's calls, the leaf's step beside them, and the whole chain again, with the caller whose line changes 2,100
 * frames from the root (`top`'s recursion) and 11 frames of `mid` above it: every check of the chain below the frame
 * a walk found (the whole chain from the leaf, the step's from below the leaf, leaf_moved's from below F, the general
 * walk's) is 2,048 frames or more long, so it runs in the loop that prefetches (pyframes.c, ML_CHECK_FAR), and the
 * entry that differs is 2,100 entries from the root, inside that loop's range. Unlike FAR_TOP, no short check can
 * see the change first: `top`'s frames, and their data stack chunks, stay where they are while `mid` is pushed and
 * popped, and a chunk that `mid` may take would be allocated 2,100 frames up (its walk's check as long). The first event of each call of mid is where the
 * changed caller must be seen: ROOT 1 and ROOT 2 are PUSH_POP's pop and push (leaf_moved); `two_steps` allocates at
 * STEP 1, then STEP 2, from one frame, so its first event is the leaf's step (the same frame at the same address, at
 * another instruction than the last event's); `once` allocates once a call, from one instruction: the whole chain
 * again (ml_pyframes_walk_whole's own check); `two_down`'s first event is two frames below the last event's leaf
 * (`callee` under `via`), which leaves it to the general walk (ml_pyframes_walk_cached's loop).
 */
const FAR_PATHS = topMidLeafProg({
  depth: 2_100,
  chain: 10,
  recursionLimit: 10_000,
  leaf: `${PUSH_POP_SIZES}SIZES_3 = [(a + 2, c + 2) for a, c in SIZES]
SIZES_4 = [(a + 4, c + 4) for a, c in SIZES]
SIZES_5 = [(a + 7, c + 7) for a, c in SIZES]
${PUSH_POP_CALLS}

def two_steps(size):
    KEEP[0] = bytearray(size)  # STEP 1
    KEEP[1] = bytearray(size + 1)  # STEP 2


def once(size):
    KEEP[0] = bytearray(size)  # ONCE


def two_down(size):
    KEEP[0] = bytearray(size)  # TWO DOWN
    via(size)  # VIA


def via(size):
    callee(size)  # VIA CALLEE
`,
  ...PUSH_POP_SHAPE,
  roots: [
    ['first_then_call, SIZES', 'ROOT 1'],
    ['call_then_last, SIZES_2', 'ROOT 2'],
    ['two_steps, SIZES_3', 'ROOT 3'],
    ['once, SIZES_4', 'ROOT 4'],
    ['two_down, SIZES_5', 'ROOT 5'],
  ],
});

type Lines = [string, number | null][];

/**
 * The walk the agent takes for these tests' stacks on `py` (pyframes.c), which the tests of one of its paths name
 * where the path is not there, so that a pass there is not read as the path's:
 *  - `fast`: 3.11+ with the GIL. Code frees are counted for the walk (a code watcher, or PyCode_Type's dealloc
 *    wrapped), so ml_pyframes_walk_whole runs first: the whole last stack again, the leaf's step, a frame pushed or
 *    popped (leaf_moved), each with the two-word check of the chain below (check_pairs, prefetching from 2,048
 *    frames on); else ml_pyframes_walk_cached, which skips what the count allows.
 *  - `general`: 3.9 and 3.10 (frame objects: no fast_len) and free-threaded 3.13 (the walk does not count on code
 *    frees there, ml_code_watch_cache being for GIL builds: docs/code-frees.md): ml_pyframes_walk_cached alone,
 *    which reads every word of each cached frame (three or four) from the frame it finds down to the root, and each
 *    cached code object's facts, on every walk. None of the `fast` paths runs: an agent that traps in any of them
 *    passes every test here on 3.9, 3.10 and 3.13t, so their mutants cannot fail these tests there; a check of the
 *    chain below the frame found that stops early fails them.
 *  - `uncached`: free-threaded 3.14 and later (thread-local bytecode): every stack walked whole, no cache.
 */
type WalkPath = 'fast' | 'general' | 'uncached';
const walkPath = (py: { minor: number; freeThreaded: boolean }): WalkPath => (py.freeThreaded && py.minor >= 14 ? 'uncached' : py.minor >= 11 && !py.freeThreaded ? 'fast' : 'general');

/** " (PATH: what runs instead)" for a test of `fast`'s `path` on an interpreter where it is not there, else "". */
function notHere(py: { minor: number; freeThreaded: boolean }, path: string): string {
  const w = walkPath(py);
  if (w === 'fast') return '';
  return w === 'general' ? ` (no ${path} on this build: the general walk's check)` : ` (no ${path} on this build: no walk cache)`;
}

/**
 * Walks the capture's allocations in order: each one `picked` is held until the next buffer of `buffers` (its
 * size -> the site line it was allocated at), whose site every held event's `siteOf` must be (they were made in
 * the same call). Returns how many events were checked.
 */
function checkSitesUntilBuffer(
  o: Oracle,
  buffers: ReadonlyMap<number, number>,
  picked: (stack: readonly Frame[]) => boolean,
  siteOf: (stack: readonly Frame[]) => number | null | undefined,
  what: string,
): number {
  let pending: number[] = [];
  let checked = 0;
  for (const a of o.allocs) {
    const stack = o.stack(a);
    if (!picked(stack)) continue;
    pending.push(siteOf(stack) ?? -1);
    const at = buffers.get(a.size);
    if (at === undefined) continue;
    for (const s of pending) assert.equal(s, at, `${what} before bytearray(${a.size})'s buffer`);
    checked += pending.length;
    pending = [];
  }
  return checked;
}

/** A stack as [function, line] pairs, innermost first. */
const lines = (stack: readonly Frame[]): Lines => stack.map((f) => [f.function, f.line]);

for (const py of testPythons()) {
  describe(`stacks under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);

    /** `memlens run FILE` of `source`, which must end well and say nothing: its capture, read. */
    const capture = async (file: string, source: string, runArgs: string[] = []): Promise<Oracle> => {
      const r = await memlensRun({ python: py.python, files: { [file]: source }, program: [file], runArgs, output: `${file}${runArgs.join('')}.mlens` }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      return Oracle.load(r.capture);
    };
    /** The stacks of the allocations of bytearray(n), innermost frame first: `count` of them. */
    const stacksOf = (o: Oracle, n: number, count: number): Frame[][] => {
      const allocs = o.allocs.filter((a) => a.size === bytearraySize(py, n));
      assert.equal(allocs.length, count, `bytearray(${n})`);
      return allocs.map((a) => o.stack(a));
    };

    test('recursion 5,000 deep', async () => {
      const o = await capture('deep.py', DEEP_PROG);
      const stack = stacksOf(o, 777_777, 1)[0] ?? [];
      assert.equal(stack.length, 5002, 'down() 5,001 times and the module');
      assert.equal(stack[0]?.line, lineOf(DEEP_PROG, '# BOTTOM'));
      for (let i = 1; i <= 5000; i++) {
        const f = stack[i];
        assert.ok(f?.function === 'down' && f.line === lineOf(DEEP_PROG, '# CALL'), `frame ${i}: ${JSON.stringify(f)}`);
      }
      assert.equal(stack[5001]?.function, '<module>');
      // Back at the top, the stack is short again.
      assert.deepEqual(stacksOf(o, 666_666, 1).map(lines), [[['<module>', lineOf(DEEP_PROG, '# AFTER')]]]);
    });

    // Both with and without Python's allocators traced: traced, no code object is freed meanwhile, so the walk
    // cache reads two words of a frame, not four (pyframes.c, "the code word" and "the owner byte"); the callers
    // that changed must still be seen.
    for (const runArgs of [[], ['--trace-python-allocators']])
      test(`a deep stack left for the root and grown again to the same frame addresses ${runArgs.join(' ')}`, async () => {
        const o = await capture('regrow.py', REGROW_PROG, runArgs);
        const line = (marker: string): number => lineOf(REGROW_PROG, marker);
        const expect = (tag: number, depth: number, leaf: [string, number]): Lines => [
          leaf,
          ...Array.from({ length: 40 - depth }, (): [string, number] => ['down', line('# CALL')]),
          tag === 2 ? ['via_b', line('# VIA B')] : ['via_a', line('# VIA A')],
          ['<module>', line(tag === 1 ? '# ROOT A' : tag === 2 ? '# ROOT B' : '# ROOT C')],
        ];
        for (const tag of [1, 2, 3]) {
          // The bottom (41 frames of down), and every level on the way up, twice each (the loop runs twice).
          const cases: [number, number, [string, number]][] = [[1_000_000 + tag, 0, ['down', line('# BOTTOM')]]];
          for (let n = 1; n <= 40; n++) cases.push([100_000 + n * 10 + tag, n, ['down', line('# UP')]]);
          for (const [size, depth, leaf] of cases) {
            for (const stack of stacksOf(o, size, 2)) assert.deepEqual(lines(stack), expect(tag, depth, leaf), `bytearray(${size})`);
          }
        }
      });

    for (const runArgs of [[], ['--trace-python-allocators']])
      test(`the same frames above a caller whose line changed between two allocations ${runArgs.join(' ')}`, async () => {
        const o = await capture('same_top.py', SAME_TOP_PROG, runArgs);
        const line = (marker: string): number => lineOf(SAME_TOP_PROG, marker);
        const buffers = new Map<number, number>();
        for (const [base, site] of [
          [200_000, '# SITE A'],
          [300_000, '# SITE B'],
        ] as const) {
          for (let i = 0; i < 3; i++) {
            buffers.set(bytearraySize(py, base + i), line(site));
            assert.deepEqual(
              stacksOf(o, base + i, 1).map(lines),
              [
                [
                  ['leaf', line('# LEAF')],
                  ['mid', line('# TO LEAF')],
                  ...Array.from({ length: 10 }, (): [string, number] => ['mid', line('# MID')]),
                  ['top', line(site)],
                  ...Array.from({ length: 30 }, (): [string, number] => ['top', line('# DOWN')]),
                  ['<module>', line('# ROOT')],
                ],
              ],
              `bytearray(${base + i})`,
            );
          }
        }
        // Every event under mid (traced: the bytearray object's, before its buffer's) has the site of the buffer
        // allocated next, in the same call: the sizes were made before the loop, so no event in top reads top's
        // frame again between two calls (SAME_TOP_PROG).
        const checked = checkSitesUntilBuffer(
          o,
          buffers,
          (stack) => stack.some((f) => f.function === 'mid'),
          (stack) => stack.find((f) => f.function === 'top')?.line,
          'an event under mid',
        );
        assert.ok(checked >= (runArgs.length > 0 ? 12 : 6), `${checked} events checked`);
      });

    for (const runArgs of [[], ['--trace-python-allocators']])
      test(`a chain of 2,160 frames above a caller whose line changed, 60 frames from the root (seen first by a data stack chunk's walk) ${runArgs.join(' ')}${notHere(py, 'prefetching check')}`, async () => {
        const o = await capture('far_top.py', FAR_TOP, runArgs);
        const line = (marker: string): number => lineOf(FAR_TOP, marker);
        for (const [base, site] of [
          [200_000, '# SITE A'],
          [300_000, '# SITE B'],
        ] as const) {
          const expected: Lines = [
            ['leaf', line('# LEAF')],
            ['mid', line('# TO LEAF')],
            ...Array.from({ length: 2_100 }, (): [string, number] => ['mid', line('# MID')]),
            ['top', line(site)],
            ...Array.from({ length: 60 }, (): [string, number] => ['top', line('# DOWN')]),
            ['<module>', line('# ROOT')],
          ];
          for (let i = 0; i < 3; i++) assert.deepEqual(stacksOf(o, base + i, 2).map(lines), [expected, expected], `bytearray(${base + i})`);
        }
      });

    for (const runArgs of [[], ['--trace-python-allocators']])
      test(`the same leaf from another instruction, pushed again above a caller whose line changed ${runArgs.join(' ')}${notHere(py, "leaf's step")}`, async () => {
        const o = await capture('leaf_step.py', LEAF_STEP, runArgs);
        const line = (marker: string): number => lineOf(LEAF_STEP, marker);
        for (const [base, site] of [
          [200_000, '# SITE A'],
          [300_000, '# SITE C'],
        ] as const) {
          for (let i = 0; i < 3; i++) {
            for (const [size, at] of [
              [base + 10 * i, '# FIRST'],
              [base + 10 * i + 1, '# SECOND'],
            ] as const) {
              assert.deepEqual(
                stacksOf(o, size, 1).map(lines),
                [
                  [
                    ['leaf', line(at)],
                    ['mid', line('# TO LEAF')],
                    ...Array.from({ length: 10 }, (): [string, number] => ['mid', line('# MID')]),
                    ['top', line(site)],
                    ...Array.from({ length: 30 }, (): [string, number] => ['top', line('# DOWN')]),
                    ['<module>', line('# ROOT')],
                  ],
                ],
                `bytearray(${size})`,
              );
            }
          }
        }
        // Every event in `leaf` has the caller's line of the buffer allocated next (in the same call).
        const site = (stack: readonly Frame[]): number | null | undefined => stack.find((f) => f.function === 'top')?.line;
        const buffers = new Map<number, number>();
        for (const [base, marker] of [
          [200_000, '# SITE A'],
          [300_000, '# SITE C'],
        ] as const)
          for (let i = 0; i < 3; i++) for (const n of [base + 10 * i, base + 10 * i + 1]) buffers.set(bytearraySize(py, n), line(marker));
        const checked = checkSitesUntilBuffer(o, buffers, (stack) => stack[0]?.function === 'leaf', site, 'an event in leaf');
        assert.ok(checked >= 12, `${checked} events checked`);
      });

    /** A leaf's frames (innermost first) above `mid`, the size's offset from the loop's size, and the root's marker. */
    type Shape = [offset: number, above: Lines, root: string];
    /**
     * The stacks of PUSH_POP's or FAR_PATHS's buffers, `depth` frames of `top` below the site: each as expected, and
     * every event under mid with the caller's line of the buffer allocated next (in the same call). Returns how many
     * events were checked.
     */
    const checkCalls = (o: Oracle, prog: string, shapes: readonly Shape[], depth: number): number => {
      const line = (marker: string): number => lineOf(prog, marker);
      const buffers = new Map<number, number>();
      for (const [base, site] of [
        [200_000, '# SITE A'],
        [300_000, '# SITE C'],
      ] as const) {
        for (let i = 0; i < 3; i++) {
          for (const [offset, above, root] of shapes) {
            const size = base + 10 * i + offset;
            buffers.set(bytearraySize(py, size), line(site));
            assert.deepEqual(
              stacksOf(o, size, 1).map(lines),
              [
                [
                  ...above,
                  ['mid', line('# TO LEAF')],
                  ...Array.from({ length: 10 }, (): [string, number] => ['mid', line('# MID')]),
                  ['top', line(site)],
                  ...Array.from({ length: depth }, (): [string, number] => ['top', line('# DOWN')]),
                  ['<module>', line(root)],
                ],
              ],
              `bytearray(${size})`,
            );
          }
        }
      }
      return checkSitesUntilBuffer(
        o,
        buffers,
        (stack) => stack.some((f) => f.function === 'mid'),
        (stack) => stack.find((f) => f.function === 'top')?.line,
        'an event under mid',
      );
    };
    /** PUSH_POP's calls in `prog` (FAR_PATHS has them too): a pop and a push each way. */
    const pushPopShapes = (prog: string): Shape[] => {
      const line = (marker: string): number => lineOf(prog, marker);
      return [
        [0, [['first_then_call', line('# FIRST')]], '# ROOT 1'],
        [
          1,
          [
            ['callee', line('# CALLEE')],
            ['first_then_call', line('# CALL AFTER')],
          ],
          '# ROOT 1',
        ],
        [
          6,
          [
            ['callee', line('# CALLEE')],
            ['call_then_last', line('# CALL BEFORE')],
          ],
          '# ROOT 2',
        ],
        [9, [['call_then_last', line('# LAST')]], '# ROOT 2'],
      ];
    };

    for (const runArgs of [[], ['--trace-python-allocators']])
      test(`a frame pushed or popped above a caller whose line changed ${runArgs.join(' ')}${notHere(py, 'leaf_moved')}`, async () => {
        const o = await capture('push_pop.py', PUSH_POP, runArgs);
        const checked = checkCalls(o, PUSH_POP, pushPopShapes(PUSH_POP), 30);
        assert.ok(checked >= 24, `${checked} events checked`);
      });

    // Every check of FAR_PATHS's chain is 2,048 frames or more long: the whole chain again, the leaf's step, a pop and
    // a push each see the changed caller only through the prefetching loop of the check (check_pairs_far).
    for (const runArgs of [[], ['--trace-python-allocators']])
      test(`a caller whose line changed 2,100 frames from the root, under a pop, a push, a step, the same leaf and two frames popped ${runArgs.join(' ')}${notHere(py, 'prefetching check')}`, async () => {
        const o = await capture('far_paths.py', FAR_PATHS, runArgs);
        const line = (marker: string): number => lineOf(FAR_PATHS, marker);
        const shapes: Shape[] = [
          ...pushPopShapes(FAR_PATHS),
          [2, [['two_steps', line('# STEP 1')]], '# ROOT 3'],
          [3, [['two_steps', line('# STEP 2')]], '# ROOT 3'],
          [4, [['once', line('# ONCE')]], '# ROOT 4'],
          [7, [['two_down', line('# TWO DOWN')]], '# ROOT 5'],
          [
            8,
            [
              ['callee', line('# CALLEE')],
              ['via', line('# VIA CALLEE')],
              ['two_down', line('# VIA')],
            ],
            '# ROOT 5',
          ],
        ];
        const checked = checkCalls(o, FAR_PATHS, shapes, 2_100);
        assert.ok(checked >= 54, `${checked} events checked`);
      });

    // With Python's allocators traced, the walk cache reads two words of a settled frame (pyframes.c, "the owner
    // byte"): the generator's frame reads as before but for its back pointer, and so do the frames the cache has
    // below it (the delegating generator, suspended, and step at the same address).
    for (const runArgs of [[], ['--trace-python-allocators']])
      test(`a generator resumed by another caller between two allocations ${runArgs.join(' ')}`, async () => {
        const o = await capture('gen_callers.py', GEN_CALLERS_PROG, runArgs);
        const line = (marker: string): number => lineOf(GEN_CALLERS_PROG, marker);
        const below: Lines = [['step', line('# STEP')], ['down', line('# TO STEP')], ...Array.from({ length: 10 }, (): [string, number] => ['down', line('# DOWN')]), ['<module>', line('# LOOP')]];
        for (let i = 0; i < 3; i++) {
          const inner: [string, number] = ['inner', line('# INNER')];
          assert.deepEqual(stacksOf(o, 400_000 + i, 1).map(lines), [[inner, ['middle', line('# MIDDLE')], ...below]], `bytearray(${400_000 + i})`);
          assert.deepEqual(stacksOf(o, 500_000 + i, 1).map(lines), [[inner, ...below]], `bytearray(${500_000 + i})`);
        }
      });

    // Where code frees are counted, the walk cache checks its code objects only when a code object was
    // freed since its last walk (pyframes.c): here one is freed before every call, and the next one takes its
    // address. A walk that took the cached code's facts without checking them would show the frame in its
    // prologue (cell_fn's MAKE_CELL) as c_fn, or hide c_fn's frame as if it were in its prologue. The set and the
    // cell are pymalloc's: recorded with Python's allocators traced only.
    test('a code object freed and another made at its address between two allocations at the same depth', async () => {
      const r = await memlensRun({ python: py.python, files: { 'reuse.py': CODE_REUSE_PROG }, program: ['reuse.py'], runArgs: ['--trace-python-allocators'], output: 'reuse.mlens' }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const [aligned, reused] = r.stdout.trim().split(' ');
      // The case this test is for: 3.11-3.14 (3.15's RESUME has a cache entry; 3.9 and 3.10 have no prologue in
      // the frame; mimalloc does not give the address back at once).
      if (py.minor >= 11 && py.minor <= 14 && !py.freeThreaded) {
        assert.equal(aligned, 'aligned', r.stdout);
        assert.ok(Number(reused) >= 300, r.stdout);
      }
      const o = await Oracle.load(r.capture);
      const call = lineOf(CODE_REUSE_PROG, '# CALL');
      const sets: number[] = [];
      const loop: number[] = [];
      for (const a of o.allocs) {
        const stack = o.stack(a);
        const at = stack.findIndex((f) => f.function === 'worker_loop');
        if (at < 0 || stack[at]?.line !== call) continue;
        const leaf = stack[0];
        if (at === 0) loop.push(a.size);
        else if (at === 1 && leaf?.function === 'c_fn') sets.push(a.size);
        else assert.fail(`an allocation under the call, made in ${JSON.stringify(leaf)}`);
      }
      // One set per call of c_fn, each shown in c_fn; every other allocation under the call (cell_fn's cell, made
      // in its prologue) shown in worker_loop. Wrong facts move one into the other group.
      const count = (xs: number[]): string =>
        [...new Set(xs)]
          .sort((a, b) => a - b)
          .map((x) => `${x}: ${xs.filter((y) => y === x).length}`)
          .join(', ');
      const what = `sizes under c_fn ${count(sets)}; under worker_loop ${count(loop)}`;
      assert.ok(sets.length > 0, what);
      for (const size of new Set(sets)) {
        assert.equal(sets.filter((x) => x === size).length, 200, what);
        assert.ok(!loop.includes(size), what);
      }
    });

    // The code id memo (pystack.c, memo_code_id) takes the last code object's id for another at its address
    // only while no code object was freed: here fa's is freed before fb's is made at its address, and the
    // reverse, between two allocations of the same thread at the same depth. A memo that did not watch the count
    // shows fb's allocations in fa (or fa's in fb).
    // At the same offset, the frame reads as before but for its code object: the nodes of a stack compared by code
    // object address are made again where a code object was freed since (pystack.c, codes_moved).
    // Frees are counted in every mode (a code watcher from 3.12 on, PyCode_Type's dealloc wrapped before:
    // docs/code-frees.md). With `replace`, the program replaces the OBJ allocator after memlens wrapped it (GIL
    // builds, where MEM and OBJ are both pymalloc's): the OBJ hook sees no code object's free any more, the
    // watcher or the dealloc still does.
    const modes = [[], ['--trace-python-allocators']];
    const nameCases: [string[], string[]][] = modes.flatMap((runArgs): [string[], string[]][] => [
      [[], runArgs],
      [['same'], runArgs],
    ]);
    if (!py.freeThreaded) nameCases.push([['same', 'replace'], ['--trace-python-allocators']]);
    // Under PYTHONMALLOC=malloc (`malloc`; glibc gives a freed chunk back at once too): the OBJ hook never counted.
    if (!py.freeThreaded) nameCases.push([['same', 'malloc'], []]);
    for (const [same, runArgs] of nameCases)
      test(`code objects of other names taking turns at one address ${same.join(' ')} ${runArgs.join(' ')}`, async () => {
        const r = await memlensRun(
          {
            python: py.python,
            files: { 'names.py': CODE_NAME_PROG },
            program: ['names.py', ...same.filter((a) => a !== 'malloc')],
            runArgs,
            env: same.includes('malloc') ? { PYTHONMALLOC: 'malloc' } : {},
            output: `names${same.join('')}${runArgs.join('')}.mlens`,
          },
          tmp.dir,
        );
        assert.equal(r.stderr, '');
        assert.equal(r.code, 0);
        const [aligned, reused, padA, padB] = r.stdout.trim().split(' ');
        if (py.minor >= 11 && py.minor <= 14 && !py.freeThreaded) {
          assert.equal(aligned, 'aligned', r.stdout);
          assert.ok(Number(reused) >= 300, r.stdout);
        }
        const o = await Oracle.load(r.capture);
        // Lines of the compiled sources: each function's return after its padding.
        for (const [n, name, line] of [
          [1001, 'fa', 2 + Number(padA)],
          [1002, 'fb', 2 + Number(padB)],
        ] as const) {
          const leaves = stacksOf(o, n, 200).map((stack) => stack[0]);
          for (const leaf of leaves) assert.deepEqual([leaf?.function, leaf?.line], [name, line], `bytearray(${n})`);
        }
      });

    test('non-ASCII file, class and function names', async () => {
      const o = await capture(UNICODE_FILE, UNICODE);
      const stack = stacksOf(o, 555_555, 1)[0] ?? [];
      assert.deepEqual(lines(stack), [
        ['функция_λ', lineOf(UNICODE, '# HERE')],
        ['méthode', lineOf(UNICODE, '        функция_λ()')],
        ['<module>', lineOf(UNICODE, 'Ünïcode().méthode()')],
      ]);
      // co_qualname exists from 3.11; before that the qualified name is the plain name.
      assert.equal(stack[1]?.qualname, py.minor >= 11 ? 'Ünïcode.méthode' : 'méthode');
      assert.ok(
        stack.every((f) => f.file.endsWith(UNICODE_FILE)),
        stack[0]?.file,
      );
    });
  });
}
