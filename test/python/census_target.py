# A process with a known heap for `memlens census PID`: 200,000 objects of one class, held by a global,
# and a list that grows while it runs (its bytearrays share one path pattern, `GROWING[*]`). Prints "ready PID", then waits to be killed.
import os
import time


class Known:
    __slots__ = ("n",)

    def __init__(self, n):
        self.n = n


HELD = [Known(i) for i in range(200_000)]
# Filled before 'ready', so that bytearray is among the largest types (whose paths are grouped) however soon
# the first census comes.
GROWING = [bytearray(256) for _ in range(5000)]
print("ready", os.getpid(), flush=True)
while True:
    GROWING.extend(bytearray(64) for _ in range(1000))
    time.sleep(0.05)
