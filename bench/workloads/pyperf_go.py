# pyperformance's go benchmark (Monte-Carlo tree search for Go: objects, lists, deep recursion), run in this process by bench/pyperformance_run.py.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import pyperformance_run  # noqa: E402

pyperformance_run.run("go", loops=2)
