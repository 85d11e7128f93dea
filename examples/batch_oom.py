"""A batch job that dies of memory: it loads "records" into a list and never lets go.

Reproduce the OOM kill under a limit and ask memlens why it died:

    memlens run --memory-limit 200M examples/batch_oom.py
    memlens verdict memlens-batch_oom.*.mlens
"""

import time


def load_chunk(i):
    # Each chunk of "records" is about 8 MB of Python objects and bytes.
    return [bytes(800) + i.to_bytes(4, "little") for _ in range(10_000)]


def main():
    loaded = []
    for i in range(1000):
        loaded.append(load_chunk(i))
        time.sleep(0.01)
    print("loaded", len(loaded))


if __name__ == "__main__":
    main()
