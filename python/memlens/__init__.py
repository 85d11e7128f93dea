"""memlens: memory profiler and OOM investigator for Python programs.

    with memlens.Tracker("out.mlens"):       # or @memlens.Tracker("out.mlens") on a function
        work()
    results = memlens.load("out.mlens")       # peak, leaks, top stacks, verdict, findings
    memlens.census()                          # live objects of this interpreter, by type

The `memlens` command (and `python -m memlens`) is the full CLI: `memlens --help`.
"""

import sys

if sys.version_info < (3, 9):
    raise ImportError(
        "memlens needs Python 3.9 or later; this is %d.%d: run it with a newer python" % sys.version_info[:2]
    )

from ._errors import MemlensError  # noqa: E402
from ._version import __version__  # noqa: E402

__all__ = ["Census", "MemlensError", "Results", "Tracker", "census", "load", "__version__"]

# The API's modules load on first use (PEP 562): the `memlens` command imports this package before it execs
# node, and census, results and tracker (json, subprocess, shutil, tempfile, threading behind them) were
# most of the 10 ms of CPU its imports added to every command's start (docs/benchmarks.md, "The fixed
# cost, round four").
_LAZY = {"Census": "census", "census": "census", "Results": "results", "load": "results", "Tracker": "tracker"}


def __getattr__(name):
    if name not in _LAZY and name not in ("results", "tracker"):
        raise AttributeError("module 'memlens' has no attribute %r" % name)
    import importlib

    if name in ("results", "tracker"):
        return importlib.import_module("." + name, __name__)
    module = _LAZY[name]

    # Importing memlens.census sets this package's `census` to the submodule; the function replaces it, as
    # `from .census import census` did.
    loaded = importlib.import_module("." + module, __name__)
    for attr, where in _LAZY.items():
        if where == module:
            globals()[attr] = getattr(loaded, attr)
    return globals()[name]


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


def load_ipython_extension(ipython):
    """`%load_ext memlens`: the %%memlens and %memlens_census magics (docs/jupyter.md)."""
    from .ipython import register

    register(ipython)
