"""A numpy job that keeps every partition it loads in a global list until the OOM killer ends it (the
shape of issue 10's first report). The verdict: memory accumulated at load_partition, in numpy's ones,
and the near-OOM census counts the numpy arrays that hold it."""
import time

import numpy as np

PARTITIONS = []


def load_partition(i):
    return np.ones(1024 * 1024) * i  # CAUSE: 8 MiB each (ones, then the product)


def main():
    i = 0
    while True:
        PARTITIONS.append(load_partition(i))
        i += 1
        time.sleep(0.05)


main()
