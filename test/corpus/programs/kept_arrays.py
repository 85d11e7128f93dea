"""Large objects kept to the end: ten 8 MiB arrays are loaded at the start into a list that is never
emptied, then the program works on something else for three times as long. The verdict: large objects
kept alive long, made at load."""
import time

import numpy as np

ARRAYS = []


def load(i):
    return np.full(1024 * 1024, float(i))  # CAUSE: 8 MiB each


def main():
    t0 = time.monotonic()
    for i in range(10):
        ARRAYS.append(load(i))
    took = time.monotonic() - t0
    end = time.monotonic() + max(3 * took, 1.0)
    n = 0
    while time.monotonic() < end:
        n += sum(len(str(x)) for x in range(200))
        time.sleep(0.005)
    print(n > 0)


main()
