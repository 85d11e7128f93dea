"""One thread keeps 20 buffers of 1.1 MB (each one allocation step of its thread: the agent's snapshot check),
sleeping 10 ms plus a twentieth of the time since the program started between two, for
test/snapshots-from-threads.test.ts. A young session's staleness is at most a fiftieth of its age (not under
2 ms: agent/src/snapshot.c), so every step finds the last snapshot stale, whatever the machine's speed (a slow
machine only stretches the sleeps, which grow faster than the staleness); with a fixed 20 ms staleness the
steps of the first 200 ms come too close for one snapshot each."""
import time

KEPT = []
START = time.monotonic()

for i in range(20):
    KEPT.append(bytes(1_100_000))  # CAUSE
    time.sleep(0.010 + (time.monotonic() - START) / 20)
print("kept %d buffers" % len(KEPT))
