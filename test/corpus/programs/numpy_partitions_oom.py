"""A numpy job that keeps every partition it loads in a global list until the OOM killer ends it (the
shape of issue 10's first report). The verdict: memory accumulated at load_partition, in numpy's ones,
and the near-OOM census counts the numpy arrays that hold it.

The partition is scaled in place: with `np.ones(n) * i` the array kept would be ones's on some CPythons
and the product's on others (numpy reuses the temporary only where it can prove it is one: not on the
3.14 and 3.15 tested), and the product is made by numpy's C code right under the program's line, with
no library frame beside it. Both verdicts are right; the corpus wants one answer on every CPython."""
import time

import numpy as np

PARTITIONS = []


def load_partition(i):
    part = np.ones(1024 * 1024)  # CAUSE: 8 MiB each
    part *= i
    return part


def main():
    i = 0
    while True:
        PARTITIONS.append(load_partition(i))
        i += 1
        time.sleep(0.05)


main()
