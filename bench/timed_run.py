"""Runs a benchmark workload as __main__ and prints how long it took, on stderr, so that the cost of a
tracker is measured on the program's own work, not on interpreter and tracker start-up
(bench/sampling-overhead.ts): wall seconds, and the process's CPU seconds (all threads, the agent's
service thread included). usage: timed_run.py SCRIPT [ARGS...]"""
import runpy
import sys
import time

path = sys.argv[1]
sys.argv = sys.argv[1:]
t0 = time.perf_counter()
c0 = time.process_time()
try:
    runpy.run_path(path, run_name="__main__")
finally:
    sys.stderr.write("memlens-bench-seconds %.6f %.6f\n" % (time.perf_counter() - t0, time.process_time() - c0))
