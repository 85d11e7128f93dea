"""Allocates and frees sensibly: a pool of threads, buffers freed at once, collections sized up front.

The threads' temporaries stay below glibc's first mmap threshold (128 KiB). Larger ones (4 MiB buffers were
here) are mmapped until the first is freed; glibc then raises its threshold, later ones come from per-thread
arenas, and up to twice that size per arena may be kept after the free: real memory held back, which the
freed-not-returned finding rightly reports. That is not what this program is for.
"""
import time
from concurrent.futures import ThreadPoolExecutor


def process(i):
    buf = bytearray(96 << 10)  # freed when process returns
    data = [0] * 12_000  # sized up front (96 KB)
    return len(buf) + len(data) + i


def main():
    table = bytearray(16 << 20)  # used by main for the whole run
    end = time.monotonic() + 1.0
    with ThreadPoolExecutor(max_workers=4) as pool:
        while time.monotonic() < end:
            total = sum(pool.map(process, range(8)))
            table[total % len(table)] = 1
            time.sleep(0.01)


main()
