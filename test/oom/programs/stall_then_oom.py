"""Fills a list to about half of its memory limit, then allocates nothing more: it tells a helper process
(started first, in the same cgroup, not tracked) to go on, and waits for it. The helper pauses (longer than
the window the verdict is asked for), then allocates until the cgroup is over its limit, and the kernel's
OOM killer ends this process: it holds the most (and its oom_score_adj is raised, so that the choice is
certain). Run under memlens run --memory-limit 96M; argv[1]: the helper's pause in seconds.

Without a helper (argv[1] == "exit"): the same fill, then a pause, then a normal exit (a quiet end)."""
import os
import subprocess
import sys
import time

HELPER = """
import os, sys, time
os.read(0, 1)  # the parent allocates nothing from now on
time.sleep(float(sys.argv[1]))
held = []
for _ in range(60):  # bounded: 60 MiB, under the limit once the parent is gone
    held.append(b"x" * (1 << 20))
"""

held = []


def fill(mib):
    for _ in range(mib):
        held.append(b"x" * (1 << 20))  # GROW-LINE: 1 MiB, written (pages charged to the cgroup)


def main():
    if sys.argv[1] == "exit":
        fill(48)
        time.sleep(3)
        return
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")
    # The helper starts before the fill, so that the fill is what the program did last.
    r, w = os.pipe()
    helper = subprocess.Popen([sys.executable, "-c", HELPER, sys.argv[1]], stdin=r)
    os.close(r)
    fill(48)
    os.write(w, b"g")
    os.waitpid(helper.pid, 0)
    # The helper ended and this process was not killed: the test fails on this status.
    sys.exit(3)


main()
