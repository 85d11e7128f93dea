# A heap whose contents the census test knows: a million objects of one class, and objects held alive by a
# module global, a closure, a class attribute, and only by an unreachable reference cycle.
import gc
import json
import sys

sys.path.insert(0, sys.argv[1])
import memlens_census


class Known:
    __slots__ = ("n",)

    def __init__(self, n):
        self.n = n


HELD_BY_GLOBAL = [Known(i) for i in range(1_000_000)]


def _make_closure():
    captured = bytearray(3_000_000)

    def use():
        return len(captured)

    return use


closure = _make_closure()


class Registry:
    entries = {}


Registry.entries["blob"] = bytearray(2_000_000)


class Node:
    pass


a, b = Node(), Node()
a.peer, b.peer = b, a
a.payload = bytearray(4_000_000)
del a, b
gc.disable()  # keep the unreachable cycle for the test

result = memlens_census.census()
paths = memlens_census.paths_for_ids([c["id"] for c in result["largest_objects"][:5]])
print(json.dumps({"census": result, "paths": paths}))
