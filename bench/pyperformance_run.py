"""Runs one pyperformance benchmark inside this process, for bench/workloads/pyperf_*.py: pyperf's worker
mode (`--worker`) times the benchmark where it is, without the child processes its normal mode starts, so
the profiler that started this process sees the benchmark's work. Needs pyperformance installed in the
interpreter (it is in .cache/bench-venv)."""
import os
import runpy
import sys


def run(name, loops, extra=()):
    """extra: the benchmark's own arguments (pickle's takes which of its benchmarks to run)."""
    try:
        import pyperformance
    except ImportError:
        sys.exit(f"pyperformance is not installed in {sys.executable}: pip install pyperformance")
    path = os.path.join(os.path.dirname(pyperformance.__file__), "data-files", "benchmarks", f"bm_{name}", "run_benchmark.py")
    sys.argv = [path, "--worker", "--loops", str(loops), "--values", "1", "--warmups", "0", "--processes", "1", "--quiet", *extra]
    sys.path.insert(0, os.path.dirname(path))
    runpy.run_path(path, run_name="__main__")
