# Eight threads allocating and freeing buffers at the same time (the GIL is released while they wait
# on a queue, so their allocations interleave).
import queue
import threading


def worker(q, n):
    keep = []
    for i in range(n):
        keep.append(bytearray(700 + i % 300))
        if len(keep) > 200:
            keep.clear()
        if i % 5000 == 0:
            q.put(i)


def work():
    q = queue.Queue()
    threads = [threading.Thread(target=worker, args=(q, 150_000)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


work()
