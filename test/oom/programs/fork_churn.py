"""A process per task: 20 children forked one after another."""
import os


def run_task(i):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def main():
    for i in range(20):
        run_task(i)


main()
