"""Accumulation: a cache that only grows while the loop churns temporaries, so that millions of objects are
live at the peak (the end of the loop) and the reports' live table is at its largest. Argument: iterations
(about 13 allocation events each with Python's allocators traced; a quarter of them keep 4
objects: the key, a string, a tuple, a list; 4.8 M allocations live at the peak at 3.85 M
iterations, the dict's and the ints' included)."""
import sys


def main(n):
    cache = {}
    for i in range(n):
        tmp = [str(i), (i, i + 1), {"k": i}]
        if i % 4 == 0:
            cache[i] = (str(i) * 2, [i])
    return len(cache) + len(tmp)


if __name__ == "__main__":
    main(int(sys.argv[1]))
