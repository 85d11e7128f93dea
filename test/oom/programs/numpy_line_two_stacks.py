"""Keeps ten products `np.ones(n) * i`, made on one line (the shape of the corpus's numpy job before it
scaled in place). On CPython 3.14 and later numpy cannot prove ones's array a temporary, so the product
is a new array made by numpy's C code right under the line, while ones's 16-byte shape buffers, kept in
numpy's cache and lent to the products, stay at ones's stack: two stacks for one line. On 3.9 to 3.13
the product reuses ones's array: one stack."""
import time

import numpy as np

PARTS = []


def load_partition(i):
    return np.ones(1024 * 128) * i  # LINE: 1 MiB each


for i in range(10):
    PARTS.append(load_partition(i))
    time.sleep(0.02)
