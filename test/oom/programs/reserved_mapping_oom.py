"""Reserves 256 MiB with mmap and writes one page of it (as OpenBLAS reserves its buffers and uses little
of them), then keeps blocks of 1 MiB, written, until the OOM killer ends it: the tracked heap goes far
above the limit while the memory the limit counts stays below it."""
import mmap

RESERVED = mmap.mmap(-1, 256 * 1024 * 1024)  # RESERVE
RESERVED[0:4096] = b"x" * 4096
KEPT = []
while True:
    KEPT.append(bytearray(1024 * 1024))  # KEEP
