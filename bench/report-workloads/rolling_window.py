"""A rolling window: the last 75,000 records (a dict, a string, a list and two ints each, and the dict's own: 526 k
objects) kept in a deque, the oldest dropped as each new one comes: a live set of constant, middling size
that is replaced many times over. Argument: records (about 12.2 allocation events each with Python's
allocators traced)."""
import collections
import sys


def main(n):
    window = collections.deque(maxlen=75_000)
    for i in range(n):
        window.append({"id": i, "name": "r%d" % i, "vals": [i, i * 2]})
    return len(window)


if __name__ == "__main__":
    main(int(sys.argv[1]))
