"""Native allocations mixed with Python's: numpy arrays (their data through numpy's allocator: malloc,
reported with PyTraceMalloc_Track) of sizes from 256 B to 64 KiB, a few kept, beside the Python objects of
the bookkeeping around them. Argument: steps."""
import sys

import numpy as np


def main(n):
    keep = []
    for step in range(n):
        a = np.arange(32 + (step % 64) * 128, dtype=np.float64)
        b = a * 2.0
        c = b[::2].copy()
        row = {"step": step, "sum": float(c[-1]), "name": "s%d" % step, "shape": list(c.shape)}
        if step % 10 == 0:
            keep.append((row, c))
        if len(keep) > 5000:
            del keep[:2500]
    return len(keep)


if __name__ == "__main__":
    main(int(sys.argv[1]))
