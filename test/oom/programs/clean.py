"""Allocates and frees sensibly: a pool of threads, buffers freed at once, collections sized up front."""
import time
from concurrent.futures import ThreadPoolExecutor


def process(i):
    buf = bytearray(4 << 20)  # large, but freed when process returns
    data = [0] * 200_000  # sized up front
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
