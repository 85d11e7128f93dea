"""Runs a script with time.perf_counter reading the process's CPU time (all its threads, the agent's
service thread included) instead of the wall clock, so that a pyperf worker times a benchmark by the CPU
it used: on a shared, loaded machine the wall clock also counts the time spent waiting for a core
(bench/sampling-overhead.ts --clock cpu). usage: cpu_clock.py SCRIPT [ARGS...]"""
import runpy
import sys
import time

# Before pyperf is imported: it takes `from time import perf_counter` at import.
time.perf_counter = time.process_time
path = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(path, run_name="__main__")
