"""A process per task: 20 children forked one after another."""
import os
import warnings

# 3.12+ warns that fork() in a multi-threaded process may deadlock: memlens's agent runs a thread.
warnings.filterwarnings("ignore", category=DeprecationWarning)


def run_task(i):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def main():
    for i in range(20):
        run_task(i)


main()
