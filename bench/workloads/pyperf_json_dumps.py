# pyperformance's json_dumps benchmark (json.dumps of dicts and lists), run in this process by bench/pyperformance_run.py.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import pyperformance_run  # noqa: E402

pyperformance_run.run("json_dumps", loops=20)
