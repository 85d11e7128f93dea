"""Code under test: functions that hold, leak or briefly use known amounts of memory. Loops rather than
comprehensions, which have frames of their own before Python 3.12."""

_kept = []
_known_cache = []


def hold(megabytes):
    blocks = []
    for _ in range(megabytes):
        blocks.append(bytearray(1024 * 1024))
    return blocks


def use_briefly(megabytes):
    """Peaks at MEGABYTES MiB, keeps nothing."""
    block = hold(megabytes)
    return len(block)


def leak(kilobytes):
    """Keeps KILOBYTES KiB for ever (a module-level list)."""
    for _ in range(kilobytes):
        _kept.append(bytearray(1024))


def known_cache_fill(kilobytes):
    """Keeps KILOBYTES KiB in a cache that is known and accepted."""
    for _ in range(kilobytes):
        _known_cache.append(bytearray(1024))
