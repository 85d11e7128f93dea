"""The IPython extension (`%load_ext memlens`), docs/jupyter.md:

    %%memlens [--leaks] [--native] [--trace-python-allocators] [--aggregate] [...]
    cell code

runs the cell in this kernel under a memlens.Tracker and shows the offline HTML report (`memlens
flamegraph`) inline; `%memlens_census [--rows N]` shows the live objects of the kernel by type.
"""

import argparse
import html
import os
import shlex
import shutil
import subprocess
import tempfile

from . import _cli
from ._errors import MemlensError


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        raise MemlensError("%s: %s (see %%%s --help)" % (self.prog, message, self.prog))

    def exit(self, status=0, message=None):
        raise _HelpShown()


class _HelpShown(Exception):
    pass


def _cell_parser():
    p = _ArgumentParser(prog="memlens", description="Run the cell under memlens and show its flame graph report.", add_help=True)
    run = p.add_argument_group("tracking (as memlens run)")
    run.add_argument("--native", action="store_true", help="Also record native (C/C++) stacks")
    run.add_argument("--trace-python-allocators", action="store_true", help="Record every Python object allocation (pymalloc)")
    run.add_argument("--aggregate", action="store_true", help="Aggregate in the process (a small capture; no timeline)")
    run.add_argument("--follow-fork", action="store_true", help="Also capture forked children")
    report = p.add_argument_group("the report (as memlens flamegraph)")
    which = report.add_mutually_exclusive_group()
    which.add_argument("--leaks", action="store_true", help="Show what was still live when the cell ended")
    which.add_argument("--temporary-allocations", action="store_true", help="Show allocations freed right after")
    which.add_argument("--temporary-allocation-threshold", metavar="N", type=int, help="Temporary: freed after at most N other allocations")
    report.add_argument("--inverted", action="store_true", help="Start with allocators at the root")
    report.add_argument("--no-source", action="store_true", help="Leave the source lines out of the report")
    report.add_argument("--height", metavar="PIXELS", type=int, default=640, help="Height of the inline report (default 640)")
    report.add_argument("-o", "--output", metavar="DIR", help="Keep the capture and the report in DIR (default: nothing kept)")
    return p


def _census_parser():
    p = _ArgumentParser(prog="memlens_census", description="Live Python objects of this kernel, by type.", add_help=True)
    p.add_argument("--rows", metavar="N", type=int, default=25, help="Types to show (default 25)")
    return p


def _iframe(page, height):
    # srcdoc keeps the report a separate document (its own styles and Content-Security-Policy); sandboxed
    # without same-origin, it cannot reach the notebook.
    return '<div class="memlens-report"><iframe title="memlens report" sandbox="allow-scripts allow-downloads" style="width:100%%;height:%dpx;border:1px solid #ccc" srcdoc="%s"></iframe></div>' % (
        height, html.escape(page, quote=True))


def memlens_cell(ipython, line, cell):
    from .tracker import Tracker

    args = _cell_parser().parse_args(shlex.split(line))
    directory = os.path.abspath(args.output) if args.output else tempfile.mkdtemp(prefix="memlens-cell-")
    os.makedirs(directory, exist_ok=True)
    count = getattr(ipython, "execution_count", 0) or 0
    capture = os.path.join(directory, "memlens-cell-%d.mlens" % count)
    page_path = capture[: -len(".mlens")] + ".html"
    try:
        tracker = Tracker(capture, overwrite=True, native=args.native, trace_python_allocators=args.trace_python_allocators,
                          aggregate=args.aggregate, follow_fork=args.follow_fork)
        with tracker:
            result = ipython.run_cell(cell, store_history=False)
        report = ["flamegraph", "-f", "-o", page_path, capture]
        if args.leaks:
            report.append("--leaks")
        if args.temporary_allocations:
            report.append("--temporary-allocations")
        if args.temporary_allocation_threshold is not None:
            report += ["--temporary-allocation-threshold", str(args.temporary_allocation_threshold)]
        if args.inverted:
            report.append("--inverted")
        if args.no_source:
            report.append("--no-source")
        r = _cli.run(report, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise MemlensError("memlens flamegraph failed: %s" % r.stderr.decode("utf-8", "replace").strip().splitlines()[0])
        with open(page_path, encoding="utf-8") as f:
            page = f.read()
    finally:
        if not args.output:
            shutil.rmtree(directory, ignore_errors=True)
    from IPython.display import HTML, display

    display(HTML(_iframe(page, args.height)))
    if args.output:
        print("memlens: capture %s, report %s" % (capture, page_path))
    if result is not None and not result.success:
        print("memlens: the cell raised an exception (above); the report shows what it allocated until then")


def memlens_census_line(ipython, line):
    # Through the package: importing the submodule directly would make memlens.census the module.
    from . import census

    args = _census_parser().parse_args(shlex.split(line))
    c = census(top_types=max(args.rows, 1))
    print(c.text(top=args.rows), end="")


def register(ipython):
    from IPython.core.error import UsageError

    def guarded(fn):
        def run(*a):
            try:
                return fn(ipython, *a)
            except _HelpShown:
                return None
            except MemlensError as e:
                raise UsageError(str(e))

        return run

    def cell(line, cell_text):
        return guarded(memlens_cell)(line, cell_text)

    def census_line(line):
        return guarded(memlens_census_line)(line)

    ipython.register_magic_function(cell, magic_kind="cell", magic_name="memlens")
    ipython.register_magic_function(census_line, magic_kind="line", magic_name="memlens_census")
