# A numpy batch job on many small and medium arrays: each step allocates a few arrays (numpy's own
# allocations through PyTraceMalloc_Track and malloc) and Python objects for the bookkeeping around them.
import numpy as np


def work():
    rng = np.random.default_rng(1)
    results = []
    for step in range(3000):
        a = rng.standard_normal((64, 32))
        b = a @ a.T
        c = np.sort(b, axis=1)[:, -4:]
        results.append({"step": step, "mean": float(c.mean()), "max": float(c.max())})
        if len(results) > 100:
            results = results[-10:]
    return len(results)


work()
