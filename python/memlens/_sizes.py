"""Sizes as people write them in limits: "24 MB", "512KiB", "1.5 GB", "100 B". As pytest-memray reads
them, KB, MB, GB, TB and PB count in 1024s (KiB, MiB, ... are accepted too)."""

import re

_UNITS = {"": 1, "B": 1}
for _i, _p in enumerate("KMGTP", start=1):
    _UNITS[_p] = _UNITS[_p + "B"] = _UNITS[_p + "IB"] = 1024 ** _i

_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*$")


def parse_size(text):
    """Bytes in TEXT, or ValueError saying how to write a size."""
    if isinstance(text, int) and not isinstance(text, bool) and text >= 0:
        return text
    m = _SIZE.match(text) if isinstance(text, str) else None
    unit = m.group(2).upper() if m else None
    if m is None or unit not in _UNITS:
        raise ValueError("%r is not a size: write a number and a unit, like '24 MB', '512 KiB' or '100 B'" % (text,))
    return int(float(m.group(1)) * _UNITS[unit])


def format_size(n):
    """1536 → '1.5 KiB'."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return ("%d B" % n) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024
    return "%.1f TiB" % n
