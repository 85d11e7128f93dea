"""Many distinct call sites and deep stacks: 400 generated functions (each its own code object, so its own
frames and lines), called through a chain 20 to 60 frames deep whose path follows the call's number
(16,400 distinct chains: 400 first functions by 41 depths; about 660 k distinct stacks), each level
allocating; a slice of the results kept. The reports' stack tables and flame graph are at their largest
here. Argument: calls of the chain."""
import sys

FUNCS = 400
SRC = """
def f{k}(depth, i):
    x = {{"k": {k}, "i": i}}
    if depth == 0:
        return [x]
    out = TABLE[(i * 7 + depth * 13 + {k}) % FUNCS](depth - 1, i)
    out.append(x)
    return out
"""

TABLE = []
for k in range(FUNCS):
    exec(compile(SRC.format(k=k), "<generated-%d>" % (k % 40), "exec"), globals())
    TABLE.append(globals()["f%d" % k])


def main(n):
    keep = []
    for i in range(n):
        r = TABLE[i % FUNCS](20 + i % 41, i)
        if i % 20 == 0:
            keep.append(r)
        if len(keep) > 200:
            del keep[:100]
    return len(keep)


if __name__ == "__main__":
    main(int(sys.argv[1]))
