// The Python programs the agent tests run (shared with the AddressSanitizer run in asan.test.ts).

/** Known allocations through bytearray, list, numpy and ctypes' malloc; a temporary; a ctypes free. */
export const ALLOC_PROG = `import ctypes
import numpy as np

KEEP = []


def keep_bytearray():
    KEEP.append(bytearray(3_000_000))  # A


def keep_list():
    KEEP.append([None] * 500_000)  # B


def keep_numpy():
    KEEP.append(np.ones(2_500_000, dtype=np.uint8))  # C


def keep_ctypes(libc):
    KEEP.append(libc.malloc(1_700_000))  # D


def temporary():
    x = bytearray(5_000_000)  # E
    del x


def main():
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    keep_bytearray()
    keep_list()
    keep_numpy()
    keep_ctypes(libc)
    temporary()
    q = libc.malloc(900_000)  # F
    libc.free(q)
    print("ok")


main()
`;

/** sitecustomize.py: three threads started before tracking, waiting for a go. */
export const THREADS_SITE = `import threading

early_go = threading.Event()
early_threads = []
KEEP = []


def early(i):
    early_go.wait()
    KEEP.append(bytearray(1_100_000 + i * 1000))  # EARLY


for i in range(3):
    t = threading.Thread(target=early, args=(i,), name="early-%d" % i, daemon=True)
    t.start()
    early_threads.append(t)
`;

/** Forty worker threads, then the early ones, then the main thread allocate known sizes. */
export const THREADS_PROG = `import threading
import sitecustomize

KEEP = []
N = 40


def worker(i):
    KEEP.append(bytearray(2_000_000 + i * 1000))  # WORKER


threads = [threading.Thread(target=worker, args=(i,), name="worker-%d" % i) for i in range(N)]
for t in threads:
    t.start()
for t in threads:
    t.join()
sitecustomize.early_go.set()
for t in sitecustomize.early_threads:
    t.join()
KEEP.append(bytearray(3_333_333))  # MAIN
print("ok")
`;

/** Recursion 5,000 deep with an allocation at the bottom. */
export const DEEP_PROG = `import sys

sys.setrecursionlimit(20000)
KEEP = []


def down(n):
    if n == 0:
        KEEP.append(bytearray(777_777))  # BOTTOM
        return
    down(n - 1)  # CALL


down(5000)
KEEP.append(bytearray(666_666))  # AFTER
print("ok")
`;

/**
 * The agent's walk cache (agent/src/pyframes.c): a stack 40 frames deep is left for the root and grown
 * again, to the same depth, through a function of the same shape (so every frame of the new stack sits at
 * the address of the old one's, with the same code and instruction above it), or through the same function
 * from another line of the root. Allocations on the way back up (100,000 + n * 10 + tag bytes) and at the bottom.
 */
export const REGROW_PROG = `KEEP = []


def down(n, tag):
    if n == 0:
        KEEP.append(bytearray(1_000_000 + tag))  # BOTTOM
        return
    down(n - 1, tag)  # CALL
    KEEP.append(bytearray(100_000 + n * 10 + tag))  # UP


def via_a(n, tag):
    down(n, tag)  # VIA A


def via_b(n, tag):
    down(n, tag)  # VIA B


for _ in range(2):
    via_a(40, 1)  # ROOT A
    via_b(40, 2)  # ROOT B
    via_a(40, 3)  # ROOT C
print("ok")
`;

/** One call of `mid` from `top`'s loop, or of `top` from the module: the arguments after the first (the depth,
 * which the generator writes), and the line's marker (without the `# `). */
export type ChainCall = [args: string, marker: string];

/**
 * The programs of the walk cache's "same frames above a caller whose line changed" tests (SAME_TOP_PROG here, and
 * stacks.test's FAR_TOP, LEAF_STEP and PUSH_POP): a recursion `top` (DOWN) whose bottom calls, in a loop, a chain
 * `mid` (MID) from two lines in turn (the sites), each time to the same depth, so that the chain's frames are
 * pushed again at the same addresses with the same words and only the site's line, below the chain, tells one
 * stack from the other. `mid` ends in `leaf(size)`, `leaf` a global function or one passed down.
 */
export interface TopMidLeaf {
  /** `top`'s argument at the root: its frames at DOWN, between the root and the one at a site (how far from the
   * root the line that changes is). */
  depth: number;
  /** `mid`'s argument at the sites: its frames at MID, between the site and the one at TO LEAF (the chain pushed
   * again at the same addresses). */
  chain: number;
  /** sys.setrecursionlimit's argument, for depth + chain past Python's default limit (1,000); none: the default. */
  recursionLimit?: number;
  /** Python source: the module's globals (KEEP, sizes made beforehand) and the leaf function(s) with their
   * markers: what is allocated, and from which lines. */
  leaf: string;
  // The rest, where left out, are SAME_TOP_PROG's (TOP_MID_LEAF_DEFAULTS).
  /** `mid`'s parameters after k, passed on down its recursion: `size` (the leaf's argument), and `leaf` where the
   * leaf function is passed in rather than the global one. */
  midArgs?: string;
  /** `top`'s parameters after n, passed on down its recursion ('': none). */
  topArgs?: string;
  /** The header of `top`'s loop, which makes the names the sites' arguments use. */
  loop?: string;
  /** The loop's two calls of mid, in turn: mid's arguments after k (what `midArgs` names), and the markers. */
  sites?: [ChainCall, ChainCall];
  /** The module's calls of `top`: its arguments after n (what `topArgs` names), and the markers. */
  roots?: ChainCall[];
}

/** SAME_TOP_PROG's loop, sites and calls: the leaf a global function of `size`, the sizes taken from the leaf's
 * SIZES (made before the loop: an int made at a site would be an event in `top` between two calls with Python's
 * allocators traced, and its walk would read `top`'s frame again before the chain is pushed), one root. */
const TOP_MID_LEAF_DEFAULTS: Required<Pick<TopMidLeaf, 'midArgs' | 'topArgs' | 'loop' | 'sites' | 'roots'>> = {
  midArgs: 'size',
  topArgs: '',
  loop: 'for a, b in SIZES:',
  sites: [
    ['a', 'SITE A'],
    ['b', 'SITE B'],
  ],
  roots: [['', 'ROOT']],
};

/** 10000 as Python writes it in these programs: 10_000. */
const pyInt = (n: number): string => String(n).replace(/\B(?=(\d{3})+$)/g, '_');

/** The Python source of one program of that shape (TopMidLeaf): `options`, the rest TOP_MID_LEAF_DEFAULTS. */
export function topMidLeafProg(options: TopMidLeaf): string {
  const p = { ...TOP_MID_LEAF_DEFAULTS, ...options };
  const limit = p.recursionLimit === undefined ? '' : `import sys\n\nsys.setrecursionlimit(${pyInt(p.recursionLimit)})\n`;
  const topArgs = p.topArgs === '' ? '' : `, ${p.topArgs}`;
  const site = ([args, marker]: ChainCall): string => `        mid(${pyInt(p.chain)}, ${args})  # ${marker}\n`;
  const roots = p.roots.map(([args, marker]) => `top(${pyInt(p.depth)}${args === '' ? '' : `, ${args}`})  # ${marker}\n`).join('');
  // BELOW[k] is k - 1, made before the calls: an int past the small ones made in each call of mid (a chain of 2,100)
  // would be an event at every depth with Python's allocators traced (and on a free-threaded build, whose objects are
  // recorded in every mode), whose walks read the changed caller again on the way up before the leaf allocates. `top`
  // takes its depths from it too: 2,100 events on the way down to the sites cost a deep `top` (FAR_PATHS) a second
  // of its traced run on 3.9.
  return `${limit}${p.leaf}
BELOW = list(range(-1, ${pyInt(Math.max(p.chain, p.depth))}))


def mid(k, ${p.midArgs}):
    if k:
        mid(BELOW[k], ${p.midArgs})  # MID
        return
    leaf(size)  # TO LEAF


def top(n${topArgs}):
    if n:
        top(BELOW[n]${topArgs})  # DOWN
        return
    ${p.loop}
${site(p.sites[0])}${site(p.sites[1])}

${roots}print("ok")
`;
}

/**
 * A 31-deep recursion whose bottom calls the same 12-frame chain from two lines in turn, three times: between
 * two allocations the frames above the bottom are popped and pushed again at the same addresses, with the
 * same code and instruction in each, and only the bottom's instruction (11 frames below the leaf) differs.
 * A walk cache that trusted the leaf's frames, or the few below it, would give the other line's stack. The sizes
 * are made before the loop and the store frees the last bytearray and allocates nothing: with Python's allocators
 * traced, every event of a call is in `leaf` (the bytearray object's, then its buffer's), none in `top`.
 */
export const SAME_TOP_PROG = topMidLeafProg({
  depth: 30,
  chain: 10,
  leaf: `KEEP = [None]
SIZES = [(200_000 + i, 300_000 + i) for i in range(3)]


def leaf(size):
    KEEP[0] = bytearray(size)  # LEAF
`,
});

/**
 * A generator resumed from two places in turn, three times each: through the generator that delegates to it
 * (`yield from`) and directly (its `gi_yieldfrom`), from the same lines of the module and `step`, 13 frames
 * deep, with no allocation in between (the sizes are made beforehand). Between two allocations the generator's
 * frame reads as before (its own memory, the same instruction) but its back pointer names the other caller; the
 * delegating generator's frame, suspended, still reads as it did, and so does step's, at the same address. A walk
 * cache that did not compare the back pointer would give one path's stack to the other's allocations.
 */
export const GEN_CALLERS_PROG = `KEEP = []
SIZES = [0, 400_000, 500_000, 400_001, 500_001, 400_002, 500_002]


def inner():
    while True:
        KEEP.append(bytearray(SIZES[len(KEEP)]))  # INNER
        yield


def middle():
    yield from inner()  # MIDDLE


def step(g):
    next(g)  # STEP


def down(n, g):
    if n:
        down(n - 1, g)  # DOWN
        return
    step(g)  # TO STEP


m = middle()
next(m)  # PRIME
direct = m.gi_yieldfrom
for g in (m, direct, m, direct, m, direct):
    down(10, g)  # LOOP
print("ok")
`;

/** A thread 30 calls deep (down, then worker_loop) that calls FN each time the main thread releases `go`, and
 * releases `done` after; QUIT ends it. The lines marked CALL, DOWN and LOOP are looked up by the tests. */
const WORKER_30_DEEP = `go = threading.Lock()
go.acquire()
done = threading.Lock()
done.acquire()
FN = None
QUIT = False


def worker_loop():
    while True:
        go.acquire()
        if QUIT:
            return
        FN()  # CALL
        done.release()


def down(n):
    if n:
        down(n - 1)  # DOWN
        return
    worker_loop()  # LOOP


t = threading.Thread(target=down, args=(30,))
t.start()
`;

/** The main thread's side: 400 times, `make` (Python lines at the loop's indentation) sets `code` and FN
 * from it, the worker calls FN once, and the loop counts how often `code` took the last one's address. */
const takeTurns = (make: string): string => `reused = 0
last = 0
for i in range(400):
${make}    if id(code) == last:
        reused += 1
    last = id(code)
    del code
    go.release()
    done.acquire()
    FN = None
QUIT = True
go.release()
t.join()
`;

/** A thread 30 calls deep calls, one after the other from the same line, a function whose code object is made
 * anew each time (the last one freed first, so that pymalloc gives its address to the next), alternating
 * between two codes: c_fn allocates a set at its first instruction after RESUME, cell_fn a cell at MAKE_CELL,
 * in its prologue, at the same offset (3.11-3.14): between two allocations the frame at the same address names a
 * code object at the same address with the same instruction word, and only the code's _co_firsttraceable
 * tells that the frame is now in its prologue (not shown) or no longer. Prints whether the offsets and the size
 * classes line up, how many code objects took the last one's address, and the padding used. */
export const CODE_REUSE_PROG = `import dis
import sys
import threading
import types

SET_SRC = "def c_fn():\\n    s = {*()}  # SET\\n{pad}    return s\\n"
CELL_SRC = """def outer():
    a = None

    def cell_fn():
        b = a
        if a:
            return lambda: b
        return None

    return cell_fn
"""


def code_of(src, name):
    ns = {}
    exec(compile(src, __file__, "exec"), ns)
    f = ns["outer"]() if name == "outer" else ns[name]
    return f


def offset_of(code, opname):
    for ins in dis.get_instructions(code):
        if ins.opname == opname:
            return ins.offset
    return -1


cell_proto = code_of(CELL_SRC, "outer")
CLOSURE = cell_proto.__closure__
CELL_CODE = cell_proto.__code__
size_class = lambda c: (c.__sizeof__() + 15) // 16
pad = 0
while pad < 64:
    SET_CODE = code_of(SET_SRC.replace("{pad}", "    _ = 0\\n" * pad), "c_fn").__code__
    if size_class(SET_CODE) == size_class(CELL_CODE):
        break
    pad += 1
aligned = size_class(SET_CODE) == size_class(CELL_CODE) and offset_of(SET_CODE, "BUILD_SET") == offset_of(CELL_CODE, "MAKE_CELL") >= 0

${WORKER_30_DEEP}${takeTurns(`    if i % 2 == 0:
        code = SET_CODE.replace(co_name="c_fn")
        FN = types.FunctionType(code, globals())
    else:
        code = CELL_CODE.replace(co_name="cell_fn")
        FN = types.FunctionType(code, globals(), "cell_fn", None, CLOSURE)
`)}print("aligned" if aligned else "not aligned", reused, pad)
`;

/** Two functions of other names whose code objects take turns at one address (pymalloc gives a freed block
 * back at once), each allocating at another offset (at the same one with the argument `same`; with `replace`,
 * the OBJ domain's allocator is first replaced by the MEM domain's, a GIL build's pymalloc both), 30 calls deep
 * in a thread: fa's bytearray(1001), fb's bytearray(1002). Prints whether the two code objects share a size class, and how often one took the other's
 * address. */
export const CODE_NAME_PROG = `import sys
import threading
import types

A_SRC = "def fa():\\n{pad}    return bytearray(1001)\\n"
B_SRC = "def fb():\\n{pad}    return bytearray(1002)\\n"


def code_of(src, name):
    ns = {}
    exec(compile(src, __file__, "exec"), ns)
    return ns[name].__code__


size_class = lambda c: (c.__sizeof__() + 15) // 16
padded = lambda src, name, n: code_of(src.replace("{pad}", "    _ = 0\\n" * n), name)
# Paddings (of other lengths: the allocations at other offsets) whose code objects share a size class.
SAME = "same" in sys.argv[1:]  # at the same offset: the same frame reads as before but for the code object
if "replace" in sys.argv[1:]:
    # The OBJ domain's allocator replaced (not wrapped) by the MEM domain's after memlens started: the same pymalloc
    # underneath, but code objects' frees no longer pass memlens's OBJ hook (its MEM hook does not look at them).
    import ctypes

    class Allocator(ctypes.Structure):
        _fields_ = [("ctx", ctypes.c_void_p), ("malloc", ctypes.c_void_p), ("calloc", ctypes.c_void_p), ("realloc", ctypes.c_void_p), ("free", ctypes.c_void_p)]

    mem = Allocator()
    ctypes.pythonapi.PyMem_GetAllocator(1, ctypes.byref(mem))
    ctypes.pythonapi.PyMem_SetAllocator(2, ctypes.byref(mem))
pads = [(a, b) for a in range(12) for b in range(12) if (a == b) == SAME]
pad_a, pad_b = next((p for p in pads if size_class(padded(A_SRC, "fa", p[0])) == size_class(padded(B_SRC, "fb", p[1]))), (1, 0))
A_CODE = padded(A_SRC, "fa", pad_a)
B_CODE = padded(B_SRC, "fb", pad_b)
aligned = size_class(A_CODE) == size_class(B_CODE)

${WORKER_30_DEEP}${takeTurns(`    code = (A_CODE if i % 2 == 0 else B_CODE).replace(co_name="fa" if i % 2 == 0 else "fb")
    FN = types.FunctionType(code, globals())
`)}print("aligned" if aligned else "unaligned", reused, pad_a, pad_b)
`;

/** multiprocessing (fork): three children allocate known sizes. */
export const FORK_PROG = `import multiprocessing as mp

KEEP = []


def child(i):
    keep = bytearray(1_500_000 + i * 1000)  # CHILD
    KEEP.append(keep)


if __name__ == "__main__":
    mp.set_start_method("fork")
    KEEP.append(bytearray(2_222_222))  # PARENT
    procs = [mp.Process(target=child, args=(i,)) for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    print([p.exitcode for p in procs], sorted(p.pid for p in procs))
`;
