"""The Python API in this interpreter: prints one JSON object of facts the test checks (test/pip/wheel.test.ts)."""

import json
import os
import sys
import threading

import memlens

out = {}
work = sys.argv[1]
KEPT = []


def make_peak():
    blocks = []
    for _ in range(12):  # a loop, not a comprehension: before 3.12 that has a frame of its own
        blocks.append(bytearray(1024 * 1024))
    return len(blocks)


def keep_some():
    for _ in range(3):
        KEPT.append(bytearray(1024 * 1024))


def in_a_thread():
    KEPT.append(bytearray(2 * 1024 * 1024))


# The context manager: peak, leaks, a thread, then the results as Python objects.
path = os.path.join(work, "with.mlens")
with memlens.Tracker(path) as tracker:
    make_peak()
    keep_some()
    t = threading.Thread(target=in_a_thread)
    t.start()
    t.join()
r = tracker.results()
out["with"] = {
    "schema": r.data["schema"],
    "peak_bytes": r.peak_bytes,
    "leaked_bytes": r.leaked_bytes,
    "top_peak_function": r.peak_stacks[0].frames[0].function,
    "top_peak_caller": r.peak_stacks[0].frames[1].function,
    "leak_functions": sorted(set(s.frames[0].function for s in r.leak_stacks if s.bytes >= 1024 * 1024)),
    "verdict_ending": r.verdict["ending"]["kind"],
    "findings_are_objects": all(isinstance(f, memlens.results.Finding) for f in r.findings),
    "attached": r.capture["attached"],
}


# The decorator: every call tracked; {n} keeps one file per call.
@memlens.Tracker(os.path.join(work, "call-{n}.mlens"), aggregate=True)
def decorated(megabytes):
    return len([bytearray(1024 * 1024) for _ in range(megabytes)])


decorated(4)
decorated(6)
out["decorator"] = [memlens.load(os.path.join(work, "call-%d.mlens" % n)).peak_bytes for n in (1, 2)]
out["decorator_aggregated"] = memlens.load(os.path.join(work, "call-1.mlens")).capture["aggregated"]

# What a Tracker refuses, each with one line.
errors = {}
try:
    with memlens.Tracker(os.path.join(work, "outer.mlens")):
        with memlens.Tracker(os.path.join(work, "inner.mlens")):
            pass
except memlens.MemlensError as e:
    errors["nested"] = str(e)
try:
    with tracker:
        pass
except memlens.MemlensError as e:
    errors["twice"] = str(e)
try:
    memlens.Tracker(path).__enter__()
except memlens.MemlensError as e:
    errors["exists"] = str(e)
try:
    memlens.load(os.path.join(work, "missing.mlens"))
except memlens.MemlensError as e:
    errors["missing"] = str(e)
out["errors"] = errors
# After the refusals, tracking works again.
with memlens.Tracker(os.path.join(work, "again.mlens")):
    make_peak()
out["again_peak"] = memlens.load(os.path.join(work, "again.mlens")).peak_bytes

c = memlens.census(top_types=10)
out["census_has_bytearray"] = any(t["type"] == "bytearray" for t in c.types)
out["census_text_starts"] = c.text(top=3).splitlines()[0]
print(json.dumps(out))
