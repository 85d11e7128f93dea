"""Mappings of known sizes, made, replaced and partly unmapped through libc (ctypes), for the tests of the
high-water mark and the leaks under partial munmap and mremap (test/agent/aggregate-mappings.test.ts).

    python3 mappings.py cases   every case below, each leaving known pieces; then a 16-unit mapping that
                                makes the end the high-water mark, so the peak set equals the end state
    python3 mappings.py spikes  a recursion that maps on the way down and unmaps on the way up, in spikes
                                of different heights: the high-water mark is the moment the deepest level
                                of the highest spike has mapped

A unit is 1 MiB. Each allocating line carries a marker comment (# CASE-...) that the test finds.
"""
import ctypes
import mmap
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.munmap.restype = ctypes.c_int
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.mremap.restype = ctypes.c_void_p
libc.mremap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int, ctypes.c_void_p]
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

U = 1 << 20
PROT = mmap.PROT_READ | mmap.PROT_WRITE
FLAGS = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
MAP_FIXED = 0x10
MREMAP_MAYMOVE = 1
FAILED = ctypes.c_void_p(-1).value


def ok(p):
    if p is None or p == FAILED:
        raise OSError(ctypes.get_errno(), "mmap or mremap failed")
    return p


def unmap(p, n):
    if libc.munmap(p, n) != 0:
        raise OSError(ctypes.get_errno(), "munmap failed")


def head():
    # 2 units, the first unmapped: 1 unit left, still one allocation.
    a = ok(libc.mmap(None, 2 * U, PROT, FLAGS, -1, 0))  # CASE-HEAD-ONLY
    unmap(a, U)


def head_and_tail():
    # 4 units, the first and the last unmapped: 2 left.
    a = ok(libc.mmap(None, 4 * U, PROT, FLAGS, -1, 0))  # CASE-HEAD-AND-TAIL
    unmap(a, U)
    unmap(a + 3 * U, U)


def two_in_one():
    # Two adjacent mappings of 4 units, made with MAP_FIXED over a reservation of 8 (which they replace
    # whole), then one munmap over both: nothing left.
    base = ok(libc.mmap(None, 8 * U, PROT, FLAGS, -1, 0))  # CASE-TWO-RESERVE
    ok(libc.mmap(base, 4 * U, PROT, FLAGS | MAP_FIXED, -1, 0))  # CASE-TWO-A
    ok(libc.mmap(base + 4 * U, 4 * U, PROT, FLAGS | MAP_FIXED, -1, 0))  # CASE-TWO-B
    unmap(base, 8 * U)


def four_in_two():
    # Four adjacent mappings of 2 units, unmapped by two munmaps of 4 units: nothing left.
    base = ok(libc.mmap(None, 8 * U, PROT, FLAGS, -1, 0))  # CASE-FOUR-RESERVE
    for i in range(4):
        ok(libc.mmap(base + 2 * i * U, 2 * U, PROT, FLAGS | MAP_FIXED, -1, 0))  # CASE-FOUR-EACH
    unmap(base, 4 * U)
    unmap(base + 4 * U, 4 * U)


def hole():
    # 8 units with a hole of 1: 7 left in two pieces, one allocation.
    a = ok(libc.mmap(None, 8 * U, PROT, FLAGS, -1, 0))  # CASE-ONE-HOLE
    unmap(a + 4 * U, U)


def two_holes():
    # 5 units, units 1 and 3 unmapped: 3 left in three pieces.
    a = ok(libc.mmap(None, 5 * U, PROT, FLAGS, -1, 0))  # CASE-TWO-HOLES
    unmap(a + U, U)
    unmap(a + 3 * U, U)


def fixed_over_part():
    # A mapping of 1 unit with MAP_FIXED into the middle of one of 4: 3 + 1.
    a = ok(libc.mmap(None, 4 * U, PROT, FLAGS, -1, 0))  # CASE-FIXED-A
    ok(libc.mmap(a + U, U, PROT, FLAGS | MAP_FIXED, -1, 0))  # CASE-FIXED-B


def remap():
    # 4 units grown to 6 (may move), then shrunk to 2 in place: 2 left, from the last mremap.
    a = ok(libc.mmap(None, 4 * U, PROT, FLAGS, -1, 0))  # CASE-REMAP-A
    a = ok(libc.mremap(a, 4 * U, 6 * U, MREMAP_MAYMOVE, None))  # CASE-REMAP-B
    ok(libc.mremap(a, 6 * U, 2 * U, 0, None))  # CASE-REMAP-C


def remap_tail():
    # The last 2 units of a mapping of 6 moved and grown to 3: 4 stay, 3 elsewhere.
    a = ok(libc.mmap(None, 6 * U, PROT, FLAGS, -1, 0))  # CASE-REMAP-TAIL-A
    ok(libc.mremap(a + 4 * U, 2 * U, 3 * U, MREMAP_MAYMOVE, None))  # CASE-REMAP-TAIL-B


def cases():
    for case in (head, head_and_tail, two_in_one, four_in_two, hole, two_holes, fixed_over_part, remap, remap_tail):
        case()
    # Everything above leaves 26 units; no moment before held more than 26 + 8. This makes the end the peak.
    ok(libc.mmap(None, 16 * U, PROT, FLAGS, -1, 0))  # CASE-PEAK


def spike(depth):
    # A malloc of a size that tells the depth; 3 units mapped, the last one unmapped at once (so the peak
    # is the moment the deepest level has mapped its 3 units).
    q = libc.malloc(depth * 100_000)  # SPIKE-MALLOC
    p = ok(libc.mmap(None, 3 * U, PROT, FLAGS, -1, 0))  # SPIKE-MAP
    unmap(p + 2 * U, U)
    if depth > 1:
        spike(depth - 1)
    libc.free(q)
    unmap(p, 2 * U)


def spikes():
    for height in (3, 6, 4, 8, 2, 7):
        spike(height)


{"cases": cases, "spikes": spikes}[sys.argv[1]]()
