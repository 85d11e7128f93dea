"""Accumulation in a list until the OOM killer ends it: every record read is appended to a module-level
list that nothing ever empties. Run under --memory-limit; the verdict: memory accumulated at read_record."""
import time

RECORDS = []


def read_record(i):
    return bytes(256 * 1024) + i.to_bytes(8, "little")  # CAUSE: 256 KiB per record, all kept


def main():
    i = 0
    while True:
        RECORDS.append(read_record(i))
        i += 1
        if i % 16 == 0:
            time.sleep(0.01)


main()
