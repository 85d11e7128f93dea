# A recursion 10,000 calls deep that allocates 1 MiB at the bottom, for test/deep-stack.test.ts: every
# report of its capture has a 10,000-frame stack to walk. It runs in a thread with a big stack: CPython
# 3.9 and 3.10 spend C stack on every Python call, and the default 8 MiB would not hold 10,000 of them.
import sys
import threading

DEPTH = 10_000
sys.setrecursionlimit(DEPTH + 1_000)
kept = []


def down(n):
    if n == 0:
        kept.append(bytearray(1 << 20))  # DEEP-ALLOC
        return
    down(n - 1)


def main():
    down(DEPTH)


threading.stack_size(512 * 1024 * 1024)
t = threading.Thread(target=main, name="deep")
t.start()
t.join()
print("allocated", len(kept))
