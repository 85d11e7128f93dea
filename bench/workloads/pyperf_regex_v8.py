# pyperformance's regex_v8 benchmark (V8's regular-expression suite on the re module: match objects,
# substituted and split strings made in C), run in this process by bench/pyperformance_run.py.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import pyperformance_run  # noqa: E402

pyperformance_run.run("regex_v8", loops=14)
