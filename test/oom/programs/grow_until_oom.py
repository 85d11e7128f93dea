"""Grows memory in one function until the kernel's OOM killer ends it (run under memlens --memory-limit)."""
import time

held = []


def grow_forever():
    while True:
        held.append(bytearray(1 << 20))  # GROW-LINE: 1 MiB every 20 ms, kept
        time.sleep(0.02)


grow_forever()
