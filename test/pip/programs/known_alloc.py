"""Known allocations: a 12 MiB peak made in make_peak, and 3 MiB still live at the end, kept by keep_some in
the registry of a module it imports (not by a name of this script: memlens run releases those at the end)."""

from registry import KEPT


def make_peak():
    blocks = []
    for _ in range(12):  # a loop, not a comprehension: before 3.12 that has a frame of its own
        blocks.append(bytearray(1024 * 1024))
    return len(blocks)


def keep_some():
    for _ in range(3):
        KEPT.append(bytearray(1024 * 1024))


make_peak()
keep_some()
