# A program to watch live: the main thread grows a cache in grow_cache() (64 KiB a step), a worker
# thread holds many small buffers in worker_loop(). It prints a line a step. It stops when the file named
# by argv[1] exists (or after argv[2] seconds, 60 by default) and exits with status 3. What it holds is kept in
# grow_state.py.
import os
import sys
import threading
import time

stop_file = sys.argv[1] if len(sys.argv) > 1 else ""
limit = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
from grow_state import cache, held  # noqa: E402 - kept beyond this script's names (grow_state.py)


def grow_cache():
    cache.append(bytearray(64 * 1024))


def worker_loop(done):
    while not done.is_set():
        if len(held) < 2000:
            held.append(bytearray(1000))
        time.sleep(0.002)


done = threading.Event()
worker = threading.Thread(target=worker_loop, args=(done,), name="holder")
worker.start()
start = time.monotonic()
step = 0
while time.monotonic() - start < limit and not (stop_file and os.path.exists(stop_file)):
    grow_cache()
    step += 1
    print("step %d: cache %d KiB" % (step, len(cache) * 64), flush=True)
    time.sleep(0.02)
done.set()
worker.join()
print("bye", flush=True)
sys.exit(3)
