# A heap whose contents the census test knows: 100,000 objects of one class, 300 sessions whose payloads
# are kept in a global dict (the path pattern `SESSIONS[*].payload`), and objects held alive by a module
# global, a closure, a class attribute, and only by an unreachable reference cycle.
#
# A bytearray is held both by a library's global (one step from that module's root) and deep in the program's
# own data: the program's roots are searched first, so its path is the program's.
#
# argv: the agent's Python directory, then `full` (bounded by work only, no CPU-time bound: the answer
# never depends on the machine's speed), `small` (a work bound far below the heap: an honest partial) or
# `memory` (no memory left before the limit, as the agent's memlens_census_room would say: a partial too).
import gc
import json
import sys

sys.path.insert(0, sys.argv[1])
import memlens_census


class Known:
    __slots__ = ("n",)

    def __init__(self, n):
        self.n = n


HELD_BY_GLOBAL = [Known(i) for i in range(100_000)]


class Session:
    def __init__(self, user):
        self.user = user
        self.payload = bytearray(50_000)


SESSIONS = {"session-%d" % i: Session("user-%d" % i) for i in range(300)}


def _make_closure():
    captured = bytearray(3_000_000)

    def use():
        return len(captured)

    return use


closure = _make_closure()


class Registry:
    entries = {}


Registry.entries["blob"] = bytearray(2_000_000)


json._memlens_test_shared = bytearray(1_500_000)
HOLDER = {"deep": {"deeper": [json._memlens_test_shared]}}


class Node:
    pass


a, b = Node(), Node()
a.peer, b.peer = b, a
a.payload = bytearray(4_000_000)
del a, b
gc.disable()  # keep the unreachable cycle for the test

if sys.argv[2] == "full":
    # 0: no CPU-time bound; the work bounds are far above this heap.
    result = memlens_census.census_with_paths(time_budget_s=0, search_cpu_s=0, paths=10)
elif sys.argv[2] == "memory":
    result = memlens_census.census_with_paths(time_budget_s=0, search_cpu_s=0, paths=10, memory_room=lambda: 0, memory_reserve=1)
else:
    result = memlens_census.census_with_paths(time_budget_s=0, search_cpu_s=0, paths=10, search_objects=5_000)
# The earlier API, on the same heap: one search for the given objects.
paths = memlens_census.paths_for_ids([c["id"] for c in result["largest_objects"][:5]], cpu_budget_s=0)
print(json.dumps({"census": result, "paths": paths}))
