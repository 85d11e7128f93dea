"""A clean sawtooth: a batch job that loads a batch, processes it and frees it before the next one
(del and gc.collect(), as one should). Memory rises and falls each round. The verdict: no finding."""
import gc
import time


def load_batch(n):
    return [bytes(64 * 1024) + i.to_bytes(4, "little") for i in range(n)]


def process(batch):
    return sum(len(b) for b in batch)


def main():
    total = 0
    for round_ in range(12):
        batch = load_batch(150)  # about 9.4 MiB
        total += process(batch)
        time.sleep(0.05)
        del batch
        gc.collect()
        time.sleep(0.02)
    print(total)


main()
