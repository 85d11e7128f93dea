"""Fragmentation: 60,000 records of 1 KiB are made, then nine in ten are freed. The survivors are spread
over the whole heap, so glibc's malloc cannot give the freed memory back: RSS stays near its peak while
the tracked heap falls to a tenth. The verdict: RSS the heap does not explain, freed memory not returned."""
import time


def load():
    return [bytes(1000) + i.to_bytes(4, "little") for i in range(60_000)]  # CAUSE


def main():
    records = load()
    survivors = records[::10]  # keep one in ten
    del records  # the other nine in ten are freed, between the survivors
    # Work on the survivors for a while (as long again as the load took, at least half a second).
    t0 = time.monotonic()
    total = 0
    while time.monotonic() - t0 < 0.5:
        total += sum(len(r) for r in survivors)
        time.sleep(0.01)
    print(len(survivors), total > 0)


main()
