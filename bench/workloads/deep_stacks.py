# A program with deep stacks: a recursive descent 150 frames deep that allocates small objects at every
# level on the way back up (each allocation's Python stack is long, and changes at the top only).
import sys

sys.setrecursionlimit(10_000)


def descend(depth, acc):
    if depth == 0:
        return [acc]
    below = descend(depth - 1, acc + 1)
    below.append({"depth": depth, "tag": "d%d" % depth})
    return below


def work():
    total = 0
    for i in range(6000):
        total += len(descend(150, i))
    return total


work()
