"""A registry in a module the program imports. What it holds outlives the script's own module-level names,
which `memlens run` releases at the program's end (docs/reports.md "Which end"): the kind of holder that
leaks in real programs (a cache or a list of handlers in a library module)."""

KEPT = []
