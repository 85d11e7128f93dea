# numpy: large temporaries from arithmetic on arrays, a matrix product, reductions.
import numpy as np


def step(a, b):
    c = a * 2.0 + b
    d = np.sqrt(np.abs(c)) - a.mean()
    return d.sum()


def work():
    rng = np.random.default_rng(1)
    a = rng.random((1000, 1000))
    b = rng.random((1000, 1000))
    s = 0.0
    for _ in range(40):
        s += step(a, b)
    m = a @ b
    return s + float(m[0, 0])


work()
