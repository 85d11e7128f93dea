"""Threads that keep memory steadily: 4 threads each keep 12 buffers of 1.1 MB, one after a sleep of 30 ms,
for test/snapshots-from-threads.test.ts. Each buffer is at least 1 MiB, so each one passes its thread's
allocation step (the agent's snapshot check), and the sleeps put at least 30 ms between two of a thread's
steps: the number of snapshots taken during the climb depends on the bytes and the sleeps, not on the
machine's speed."""
import threading
import time

KEPT = {}


def keep(worker, i):
    KEPT[(worker, i)] = bytes(1_100_000)  # CAUSE


def work(worker):
    for i in range(12):
        keep(worker, i)
        time.sleep(0.03)


threads = [threading.Thread(target=work, args=(w,), name="keeper-%d" % w) for w in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("kept %d buffers" % len(KEPT))
