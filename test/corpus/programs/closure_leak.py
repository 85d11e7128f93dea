"""Closures that capture a large buffer each and are kept in a list of callbacks: the buffer lives as long
as the closure does, which is for ever. The verdict: memory accumulated at make_callback."""
import time

CALLBACKS = []


def make_callback(i):
    buf = bytearray(48 * 1024)  # CAUSE: captured by the closure below

    def on_done():
        return len(buf) + i

    return on_done


def main():
    for i in range(700):
        CALLBACKS.append(make_callback(i))
        time.sleep(0.002)
    print(sum(cb() for cb in CALLBACKS[:3]))


main()
