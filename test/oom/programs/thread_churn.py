"""A thread per task: 40 threads started and ended one after another."""
import threading


def task(i):
    data = bytes(4096) * 4  # THREAD-TASK
    return len(data) + i


def main():
    for i in range(40):
        t = threading.Thread(target=task, args=(i,))
        t.start()
        t.join()


main()
