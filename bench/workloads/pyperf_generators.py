# pyperformance's generators benchmark (a tree walked by nested generators: generator frames suspended and
# resumed at every level), run in this process by bench/pyperformance_run.py.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import pyperformance_run  # noqa: E402

pyperformance_run.run("generators", loops=4)
