# Many medium-sized buffers (the system allocator's path): 1.5 million allocations and frees, three
# frames deep, a tenth kept for a while.
def leaf(n):
    return bytearray(n)


def mid(i):
    return leaf(600 + (i % 64) * 16)


def work():
    keep = []
    for i in range(1_500_000):
        b = mid(i)
        if i % 10 == 0:
            keep.append(b)
        if len(keep) > 5000:
            keep.clear()


work()
