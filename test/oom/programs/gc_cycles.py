"""Objects in reference cycles holding 1 MiB buffers: only the garbage collector frees them."""
import gc


class Node:
    def __init__(self):
        self.buf = bytearray(1 << 20)  # CYCLE-BUF
        self.me = self  # a cycle: reference counting never frees it


def churn():
    keep = []
    for i in range(40):
        Node()
        keep.append([[] for _ in range(100)])  # live container objects: the collector runs on its own
    gc.collect()


churn()
