# A long-running target that checks its own invariants: threads compute results that are verified, and
# allocate while doing it. It prints "ready" once running; on SIGTERM it prints how many checks passed and
# exits 0 if every check passed (1 otherwise). Anything memlens breaks shows up as a failed check or a crash.
import hashlib
import os
import signal
import sys
import threading
import time

stop = threading.Event()
failures = []
checks = [0] * 4


def worker(index):
    kept = []
    n = 0
    while not stop.is_set():
        n += 1
        data = bytes((n + i) % 256 for i in range(4096))
        digest = hashlib.sha256(data).hexdigest()
        again = hashlib.sha256(bytes(bytearray(data))).hexdigest()
        if digest != again or sum(range(n % 1000)) != (n % 1000) * (n % 1000 - 1) // 2:
            failures.append((index, n))
        kept.append(bytearray(10_000))
        if len(kept) > 50:
            del kept[:25]
        checks[index] += 1
        time.sleep(0.001)


def on_term(signum, frame):
    stop.set()


signal.signal(signal.SIGTERM, on_term)
threads = [threading.Thread(target=worker, args=(i,), name="checker-%d" % i) for i in range(4)]
for t in threads:
    t.start()
print("ready", os.getpid(), flush=True)
while not stop.is_set():
    time.sleep(0.05)
for t in threads:
    t.join()
print("checks", sum(checks), "failures", len(failures), flush=True)
sys.exit(1 if failures or min(checks) == 0 else 0)
