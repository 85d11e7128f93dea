"""A target for the security tests: allocates steadily until it is told to stop (the file named by its first
argument, if any, appears) or killed; says "ready PID" once it runs."""
import os
import sys
import time

print("ready", os.getpid(), flush=True)
stop = sys.argv[1] if len(sys.argv) > 1 else None
kept = []
while stop is None or not os.path.exists(stop):
    kept.append(bytearray(4096))
    if len(kept) > 2000:
        kept.clear()
    time.sleep(0.01)
print("stopping", flush=True)
