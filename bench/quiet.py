"""A quiet program for capture-size measurements (docs/benchmarks.md, "Capture size"): for SECONDS (default
20), a 1-6 KB bytearray every 2 ms, the older half dropped whenever 500 are kept. It allocates little, so
the agent's 10 ms flushes make many small blocks, as in a long attach to an idle service.
usage: quiet.py [SECONDS]"""
import sys
import time

keep = []
end = time.time() + float(sys.argv[1] if len(sys.argv) > 1 else 20)
i = 0
while time.time() < end:
    keep.append(bytearray(1000 + i % 5000))
    if len(keep) > 500:
        keep = keep[250:]
    i += 1
    time.sleep(0.002)
