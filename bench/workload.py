"""The benchmark workload: a loop that builds and drops small objects and buffers, keeping some (so that
there is a peak and leaks), like a batch job parsing records. Argument: iterations (about 25 allocation
events each with Python allocators traced, a handful without)."""
import sys


def parse(i):
    fields = [bytes(64 + (i % 200)) for _ in range(6)]
    record = {"id": i, "name": str(i), "fields": fields}
    return record


def main(n):
    keep = []
    blob = []
    for i in range(n):
        r = parse(i)
        if i % 50 == 0:
            keep.append(r)
        if i % 5000 == 0:
            blob.append(bytearray(1 << 20))
        if len(keep) > 20000:
            del keep[:10000]
        if len(blob) > 40:
            del blob[:20]
    return len(keep)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100000)
