"""Imports numpy after memlens started tracking (its OpenBLAS maps a buffer of 32 MiB or more per thread
while it loads, before the agent hooks it), then keeps arrays of 1 MiB, written, until the OOM killer ends
it: the verdict names numpy's libraries as loaded after the start."""
import numpy as np

KEPT = []
while True:
    KEPT.append(np.ones(1024 * 128))  # KEEP
