"""Large objects made by a function that returns, kept alive (in a cache) for the rest of the run."""
import time

CACHE = []


def load_table(i):
    table = bytearray(8 << 20)  # KEPT-LINE: 8 MiB, kept after load_table returns
    CACHE.append(table)
    return len(table)


def work():
    parts = [bytes(2000) for _ in range(50)]  # small, freed at once
    return sum(len(p) for p in parts)


def main():
    for i in range(4):
        load_table(i)
    end = time.monotonic() + 1.2
    while time.monotonic() < end:
        work()
        time.sleep(0.005)


main()
