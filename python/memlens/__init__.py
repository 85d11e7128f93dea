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
from .census import Census, census  # noqa: E402
from .results import Results, load  # noqa: E402
from .tracker import Tracker  # noqa: E402

__all__ = ["Census", "MemlensError", "Results", "Tracker", "census", "load", "__version__"]


def load_ipython_extension(ipython):
    """`%load_ext memlens`: the %%memlens and %memlens_census magics (docs/jupyter.md)."""
    from .ipython import register

    register(ipython)
