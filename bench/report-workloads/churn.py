"""Churn with a tiny live set: records built in batches of 1000 and dropped, so that never more than a few
thousand objects are live; what a report costs here is its floor for reading a big capture. Argument:
records."""
import sys


def record(i):
    return {"id": i, "name": "item-%d" % i, "tags": [i % 7, i % 11, str(i)]}


def main(n):
    batch = []
    for i in range(n):
        batch.append(record(i))
        if len(batch) == 1000:
            batch = []
    return len(batch)


if __name__ == "__main__":
    main(int(sys.argv[1]))
