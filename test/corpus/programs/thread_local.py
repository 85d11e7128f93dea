"""A pool of long-lived worker threads, each with a thread-local cache that only grows: every task's
result is kept in its thread's cache, until the OOM killer ends the service (run it under
--memory-limit). The verdict: memory accumulated at work, in every worker thread."""
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

local = threading.local()


def work(i):
    cache = getattr(local, "cache", None)
    if cache is None:
        cache = local.cache = {}
    cache[i] = bytes(40 * 1024) + i.to_bytes(4, "little")  # CAUSE
    time.sleep(0.004)
    return i


def main():
    with ThreadPoolExecutor(max_workers=4) as pool:
        for first in itertools.count(0, 64):  # a service: batches of tasks without end
            list(pool.map(work, range(first, first + 64)))


main()
