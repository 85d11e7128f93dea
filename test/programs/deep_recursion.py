# A recursion 10,000 calls deep that allocates 1 MiB at the bottom, for test/deep-stack.test.ts: every
# report of its capture has a 10,000-frame stack to walk. It runs in a thread with a big stack: CPython
# 3.9 and 3.10 spend C stack on every Python call, and the default 8 MiB would not hold 10,000 of them.
import sys
import threading

DEPTH = 10_000
sys.setrecursionlimit(DEPTH + 1_000)
kept = []


# The recursion walks a chain of nested tuples made beforehand, so that it allocates nothing on the way
# down: `n - 1` makes a new int past 256, and a free-threaded build's ints come from mimalloc, which memlens
# records, so each level would add an allocation with its own stack up to 10,000 frames deep.
CHAIN = ()
for _ in range(DEPTH):
    CHAIN = (CHAIN,)


def down(chain):
    if not chain:
        kept.append(bytearray(1 << 20))  # DEEP-ALLOC
        return
    down(chain[0])


def main():
    down(CHAIN)


threading.stack_size(512 * 1024 * 1024)
t = threading.Thread(target=main, name="deep")
t.start()
t.join()
print("allocated", len(kept))
