# A long-running target that checks its own invariants: threads compute results that are verified, and
# allocate while doing it. It prints "ready" once running; on SIGTERM it prints how many checks passed and
# exits 0 if every check passed (1 otherwise). Anything memlens breaks shows up as a failed check or a crash.
# On a free-threaded build the GIL must still be off at the end (memlens must not turn it on).
import hashlib
import os
import signal
import sys
import sysconfig
import threading
import time

free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))

PATTERN = bytes(range(256))
stop = threading.Event()
failures = []
checks = [0] * 4


def worker(index):
    kept = []
    n = 0
    while not stop.is_set():
        n += 1
        # Few Python objects per round: on a free-threaded build every object is recorded, and a round that
        # made thousands of ints (a generator over range(4096)) wrote 2 M events a second, so the capture of
        # an attach grew with how long the detach took on a busy machine (8.9 M events, a summary of minutes).
        shift = n % 256
        data = (PATTERN[shift:] + PATTERN[:shift]) * 16
        digest = hashlib.sha256(data).hexdigest()
        again = hashlib.sha256(bytes(bytearray(data))).hexdigest()
        if digest != again or data[4095] != (shift + 255) % 256 or sum(range(shift)) != shift * (shift - 1) // 2:
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
gil = getattr(sys, "_is_gil_enabled", lambda: True)()
print("checks", sum(checks), "failures", len(failures), "gil", "on" if gil else "off", flush=True)
sys.exit(1 if failures or min(checks) == 0 or (free_threaded and gil) else 0)
