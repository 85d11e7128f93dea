"""Many threads: 32 threads building and dropping records at the same time, each keeping its last 1000 to 2000,
so that 32 streams are busy (they take turns under the GIL every switch interval). Argument: records in all
(shared evenly among the threads)."""
import sys
import threading

THREADS = 32


def worker(n, out, slot):
    keep = []
    for i in range(n):
        keep.append({"i": i, "s": str(i), "l": [i, i + 1]})
        if len(keep) > 2000:
            del keep[:1000]
    out[slot] = len(keep)


def main(n):
    out = [0] * THREADS
    threads = [threading.Thread(target=worker, args=(n // THREADS, out, k), name="worker-%d" % k) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(out)


if __name__ == "__main__":
    main(int(sys.argv[1]))
