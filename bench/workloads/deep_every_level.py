# A recursion 10,000 calls deep that allocates at every level on the way down and on the way back up: every
# stack of its capture is thousands of frames deep (about 20,000 distinct stacks, ~100 M frames in all), the
# case where reports that make every stack's frames took 1.5 GB (docs/benchmarks.md, "Report memory, round
# two"). It runs in a thread with a big stack: CPython 3.9 and 3.10 spend C stack on every Python call.
import sys
import threading

DEPTH = 10_000
sys.setrecursionlimit(DEPTH + 1_000)
kept = []


def down(n):
    if n == 0:
        kept.append(bytearray(1 << 20))
        return
    kept.append([n, n])
    down(n - 1)
    kept.append({"n": n})


def main():
    down(DEPTH)


threading.stack_size(512 << 20)
t = threading.Thread(target=main)
t.start()
t.join()
