"""One huge temporary: a function materializes a whole matrix to take its mean, more than the memory
limit allows at once. The OOM killer ends it while it fills the matrix. The verdict: one allocation took
most of the limit, at column_means (in numpy's ones)."""
import numpy as np


def column_means(rows, cols):
    matrix = np.ones((rows, cols))  # CAUSE: 8 * rows * cols bytes at once
    return matrix.mean(axis=0)


def main():
    small = column_means(100, 100)  # fine
    big = column_means(20_000, 1_000)  # 153 MiB: more than a 128 MiB limit
    print(small.sum(), big.sum())


main()
