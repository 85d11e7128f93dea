"""A workload with many distinct frames, for comparing flame-graph reports (bench/viewer.ts, docs/benchmarks.md).

Usage: python3 many_frames.py N SECONDS
Writes a module of N functions (a random call tree: each function is called by one earlier function, so
there are N distinct frames in deep chains), calls it so that every leaf keeps a bytearray alive, then
keeps allocating and freeing for SECONDS so the memory timeline has something to show.
"""
import atexit
import os
import random
import shutil
import sys
import tempfile
import time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
rnd = random.Random(1)
children = [[] for _ in range(n)]
depth = [0] * n
for i in range(1, n):
    p = i - 1 - int(rnd.random() ** 3 * min(i, 50)) if rnd.random() < 0.7 else rnd.randrange(i)
    if depth[p] >= 150:
        p = rnd.randrange(min(i, 50))
    children[p].append(i)
    depth[i] = depth[p] + 1

lines = ["KEEP = []"]
for i in range(n):
    lines.append(f"def function_number_{i}():")
    if children[i]:
        lines.extend(f"    function_number_{c}()" for c in children[i])
    else:
        lines.append(f"    KEEP.append(bytearray({1024 + (i * 7919) % 65536}))")
# The generated module's directory goes at exit (each run of the benchmark made one and left it in /tmp).
generated_dir = tempfile.mkdtemp(prefix="many_frames_")
atexit.register(shutil.rmtree, generated_dir, True)
path = os.path.join(generated_dir, "generated_frames.py")
with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")
sys.path.insert(0, os.path.dirname(path))
sys.setrecursionlimit(10000)
import generated_frames  # noqa: E402

generated_frames.function_number_0()
end = time.time() + seconds
churn = []
while time.time() < end:
    churn.append(bytearray(256 * 1024))
    if len(churn) > 40:
        churn.clear()
    time.sleep(0.002)
print(len(generated_frames.KEEP), "leaves kept")
