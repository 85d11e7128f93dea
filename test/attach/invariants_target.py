# A long-running target that checks its own invariants: threads compute results that are verified, and
# allocate while doing it. It prints "ready" once running; on SIGTERM it prints how many checks passed and
# exits 0 if every check passed (1 otherwise). Anything memlens breaks shows up as a failed check or a crash.
# On a free-threaded build the GIL must still be off at the end (memlens must not turn it on). A thread makes and
# frees code objects throughout, and the main thread 2000 more after the last detach.
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
churned = [0]
# An exception CPython could not raise (one from a watcher's callback, as in a dealloc) is a failure too.
sys.unraisablehook = lambda u: failures.append(("unraisable", repr(u.exc_value)))


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


def churn_once(n):
    # A code object made, called and freed: memlens counts code objects' frees with a code watcher from 3.12 on,
    # added at attach and cleared at detach (docs/code-frees.md); the program goes on making and freeing them.
    ns = {}
    exec(compile("def f%d(x):\n    return x * %d\n" % (n % 7, n % 11), "<churn>", "exec"), ns)
    if ns["f%d" % (n % 7)](3) != 3 * (n % 11):
        failures.append(("churn", n))


def churner():
    n = 0
    while not stop.is_set():
        churn_once(n)
        n += 1
        churned[0] = n
        time.sleep(0.005)


def on_term(signum, frame):
    stop.set()


signal.signal(signal.SIGTERM, on_term)
threads = [threading.Thread(target=worker, args=(i,), name="checker-%d" % i) for i in range(4)]
threads.append(threading.Thread(target=churner, name="churner"))
for t in threads:
    t.start()
print("ready", os.getpid(), flush=True)
while not stop.is_set():
    time.sleep(0.05)
for t in threads:
    t.join()
# After the last detach: code objects freed with memlens gone (a watcher left pointing at nothing would crash).
for i in range(2000):
    churn_once(i)
gil = getattr(sys, "_is_gil_enabled", lambda: True)()
print("checks", sum(checks), "churned", churned[0], "failures", len(failures), failures[:3], "gil", "on" if gil else "off", flush=True)
sys.exit(1 if failures or min(checks) == 0 or churned[0] == 0 or (free_threaded and gil) else 0)
