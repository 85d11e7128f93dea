"""Runs a command and prints, as JSON, its wall time and the CPU time (user + system) of its whole process
tree: os.wait4 returns the rusage of the child and of every descendant it waited for. On a shared, loaded
machine the CPU time says what a run costs, the wall time also how long it waited for a core
(bench/run-overhead.ts, the fixed cost). usage: tree_rusage.py COMMAND [ARGS...]"""
import json
import os
import subprocess
import sys
import time

t = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = p.stderr.read()
_, status, ru = os.wait4(p.pid, 0)
wall = time.perf_counter() - t
code = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
if code != 0:
    sys.stderr.write(err.decode(errors="replace"))
    sys.exit(1)
sys.stdout.write(json.dumps({"wall": wall, "cpu": ru.ru_utime + ru.ru_stime}))
