# pyperformance's unpickle benchmark (the C pickle module loading dicts, lists, tuples and strings: many
# small objects made in C, shallow Python stacks), run in this process by bench/pyperformance_run.py.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import pyperformance_run  # noqa: E402

pyperformance_run.run("pickle", loops=1000, extra=["unpickle"])
