# What grow.py holds, in a module it imports rather than in names of its own script: `memlens run` releases
# those at the program's end (docs/reports.md "Which end"), and the tests read the cache at the end too.
cache = []
held = []
