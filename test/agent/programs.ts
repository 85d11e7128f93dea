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

/**
 * A 31-deep recursion whose bottom calls the same 12-frame chain from two lines in turn, three times: between
 * two allocations the frames above the bottom are popped and pushed again at the same addresses, with the
 * same code and instruction in each, and only the bottom's instruction (11 frames below the leaf) differs.
 * A walk cache that trusted the leaf's frames, or the few below it, would give the other line's stack.
 */
export const SAME_TOP_PROG = `KEEP = []


def leaf(size):
    KEEP.append(bytearray(size))  # LEAF


def mid(k, size):
    if k:
        mid(k - 1, size)  # MID
        return
    leaf(size)  # TO LEAF


def top(n):
    if n:
        top(n - 1)  # DOWN
        return
    for i in range(3):
        mid(10, 200_000 + i)  # SITE A
        mid(10, 300_000 + i)  # SITE B


top(30)  # ROOT
print("ok")
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
