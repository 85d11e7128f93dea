"""A small "service" with the memory problems memlens is for, in miniature.

- A module-level cache that only grows (a leak: what is still alive at the end).
- Request handlers that build big temporary buffers (the peak).
- A list grown by append in a loop instead of being sized up front (repeated reallocation).
- A thread per batch instead of a pool.

Run it under memlens:  memlens run examples/leaky_service.py
"""

import threading

CACHE = {}  # grows forever: nothing ever evicts an entry


def parse_request(i):
    # A big temporary: freed when the function returns, but it sets the peak.
    raw = bytearray(2_000_000)
    return len(raw) + i


def remember(i):
    # The leak: one 50 KB entry per request, kept for ever.
    CACHE[i] = b"x" * 50_000


def collect_results(n):
    # Grows a list one element at a time: the list is reallocated again and again.
    out = []
    for i in range(n):
        out.append(i * 2)
    return out


def handle_batch(first, count):
    for i in range(first, first + count):
        parse_request(i)
        remember(i)


def main():
    threads = []
    for batch in range(8):  # a thread per batch, where a pool would do
        t = threading.Thread(target=handle_batch, args=(batch * 50, 50), name="batch-%d" % batch)
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    results = collect_results(300_000)
    print("handled %d requests, cache holds %d entries, %d results" % (400, len(CACHE), len(results)))


if __name__ == "__main__":
    main()
