# Sixteen threads building and dropping Python objects (dicts, lists, strings) at the same time; they take
# turns under the GIL every switch interval, so every thread's stream is busy.
import threading


def worker(n, out, slot):
    keep = []
    total = 0
    for i in range(n):
        keep.append({"i": i, "s": str(i), "l": [i, i + 1]})
        if len(keep) > 500:
            total += len(keep)
            keep = []
    out[slot] = total


def work():
    out = [0] * 16
    threads = [threading.Thread(target=worker, args=(80_000, out, k)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(out)


work()
