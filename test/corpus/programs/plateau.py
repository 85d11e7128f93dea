"""A clean plateau: a lookup table is loaded once at the start, then used, unchanged, for the rest of
the run (three times as long as the load took). Memory grows once and stays. The verdict: no finding."""
import time


def load_table():
    return {i: ("name-%d" % i).encode() * 20 for i in range(40_000)}


def lookup(table, i):
    return len(table[i % len(table)])


def main():
    t0 = time.monotonic()
    table = load_table()
    took = time.monotonic() - t0
    end = time.monotonic() + max(3 * took, 1.0)
    n = 0
    while time.monotonic() < end:
        n += lookup(table, n)
        if n % 1000 == 0:
            time.sleep(0.001)
    print(n > 0)


main()
