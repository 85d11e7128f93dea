# A batch job with large allocations: read "files" into big buffers, transform them into new ones, keep a
# summary, drop the rest (50 rounds of 20-40 MB buffers).
def load(i):
    return bytearray((20 + i % 5 * 5) * 1024 * 1024)


def transform(buf):
    out = bytes(buf[: len(buf) // 2])
    return out + out


def work():
    summary = []
    for i in range(50):
        raw = load(i)
        done = transform(raw)
        summary.append(len(done))
        del raw, done
    return sum(summary)


if __name__ == "__main__":
    work()
