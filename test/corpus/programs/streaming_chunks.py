"""Clean streaming: a large input is processed in chunks of 1 MiB, each freed before the next is read,
with one preallocated output buffer. Memory stays flat. The verdict: no finding."""
import io
import time


def chunks(stream, size=1 << 20):
    while True:
        block = stream.read(size)
        if not block:
            return
        yield block


def main():
    source = io.BytesIO(bytes(32 << 20))
    out = bytearray(1 << 20)
    total = 0
    for block in chunks(source):
        out[: len(block)] = block
        total += len(block)
        time.sleep(0.01)
    print(total)


main()
