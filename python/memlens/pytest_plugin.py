"""The pytest plugin: `pytest --memlens` (docs/pytest.md).

Each test's body runs under a memlens.Tracker (aggregated unless --memlens-full), and one `memlens results
--serve` process per pytest process reads each capture: the test's peak, its leaks, their largest stacks.
The markers limit_memory and limit_leaks keep pytest-memray's meaning. A test over its limit fails with a
few lines (where the memory went, the capture and its HTML report); other tests' captures are removed.
Results travel to the xdist controller in report.user_properties; the workers' own peak RSS in
workeroutput.
"""

import json
import os
import re
import resource
import subprocess
import sys
import time

import pytest

from ._errors import MemlensError
from ._sizes import format_size, parse_size

SCHEMA = "memlens.pytest/1"
PROPERTY = "memlens"
MARKERS = ("limit_memory", "limit_leaks")


def pytest_addoption(parser):
    group = parser.getgroup("memlens", "memory tracking with memlens")
    group.addoption("--memlens", action="store_true", default=None, help="Track each test's memory (peak and leaks); markers limit_memory and limit_leaks fail tests over their limit")
    group.addoption("--memlens-limit-memory", metavar="SIZE", default=None, help="A peak-memory limit for every test without a limit_memory marker (like '100 MB')")
    group.addoption("--memlens-full", action="store_true", default=None, help="Full (not aggregated) captures: a failing test's HTML report has the memory timeline")
    group.addoption("--memlens-dir", metavar="DIR", default=None, help="Where captures and reports go (default: .memlens in the root directory); those of failing tests are kept")
    group.addoption("--memlens-keep", action="store_true", default=None, help="Keep every test's capture, not only those of failing tests")
    group.addoption("--memlens-json", metavar="FILE", default=None, help="Write each test's results as JSON (schema memlens.pytest/1) to FILE")
    group.addoption("--memlens-top", metavar="N", type=int, default=None, help="Tests listed in the session summary (default 5)")
    group.addoption("--memlens-native", action="store_true", default=None, help="Also record native (C/C++) stacks")
    group.addoption("--memlens-trace-python-allocators", action="store_true", default=None, help="Record every Python object allocation (pymalloc); limit_leaks tests always do")
    group.addoption("--hide-memlens-summary", action="store_true", default=None, help="No memlens summary at the end of the session")
    for name, kind, help_text in (
        ("memlens", "bool", "Track memory as --memlens does"),
        ("memlens_limit_memory", "string", "Default peak-memory limit of every test"),
        ("memlens_full", "bool", "Full captures, as --memlens-full"),
        ("memlens_dir", "string", "Directory of captures, as --memlens-dir"),
        ("memlens_json", "string", "JSON results file, as --memlens-json"),
        ("memlens_native", "bool", "Native stacks, as --memlens-native"),
    ):
        parser.addini(name, help_text, type=kind, default=None)


def _option(config, name, ini=None):
    value = config.getoption(name)
    if value is None and ini is not None:
        value = config.getini(ini)
    return value


# trylast: pytest-memray, if installed, has registered its manager by then.
@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    config.addinivalue_line("markers", "limit_memory(limit): fail the test if its peak memory is over LIMIT (like '24 MB'), under --memlens")
    config.addinivalue_line("markers", "limit_leaks(limit, *, filter_fn=None): fail the test if a call stack leaks more than LIMIT, under --memlens")
    if not _option(config, "memlens", "memlens"):
        return
    if config.pluginmanager.hasplugin("memray") and _memray_enabled(config):
        raise pytest.UsageError("--memlens and --memray both track allocations and cannot run together: keep one (pytest-memray may stay installed)")
    # pytest-memray tracks every test with one of its markers even without --memray: two profilers in one
    # test would each record the other. The markers are ours under --memlens.
    memray = config.pluginmanager.get_plugin("memray_manager")
    if memray is not None:
        config.pluginmanager.unregister(memray)
    config.pluginmanager.register(MemlensPlugin(config), "memlens-session")


def _memray_enabled(config):
    """--memray or `memray = true` (pytest-memray's switches)."""
    for read in (config.getoption, config.getini):
        try:
            if read("memray"):
                return True
        except ValueError:  # not registered: pytest-memray is not installed
            pass
    return False


class _Limits:
    def __init__(self, memory=None, leaks=None, filter_fn=None, memory_source=None):
        self.memory = memory
        self.memory_source = memory_source
        self.leaks = leaks
        self.filter_fn = filter_fn


def _marker_size(item, marker):
    if not marker.args:
        raise pytest.UsageError("%s: @pytest.mark.%s needs a limit, like %s(\"24 MB\")" % (item.nodeid, marker.name, marker.name))
    try:
        return parse_size(marker.args[0])
    except ValueError as e:
        raise pytest.UsageError("%s: @pytest.mark.%s: %s" % (item.nodeid, marker.name, e))


def _limits_of(item, default_memory):
    limits = _Limits()
    found = [m for m in item.iter_markers() if m.name in MARKERS]
    names = set(m.name for m in found)
    if len(names) > 1:
        raise pytest.UsageError("%s: one memlens marker per test (it has %s): keep one" % (item.nodeid, " and ".join(sorted(names))))
    for marker in found[:1]:
        for key in marker.kwargs:
            if key == "current_thread_only" and marker.kwargs[key]:
                raise pytest.UsageError("%s: %s(current_thread_only=True) is not supported by memlens: remove it (memlens counts every thread)" % (item.nodeid, marker.name))
            if key not in ("current_thread_only", "filter_fn") or (key == "filter_fn" and marker.name != "limit_leaks"):
                raise pytest.UsageError("%s: @pytest.mark.%s has no argument %r" % (item.nodeid, marker.name, key))
        if marker.name == "limit_memory":
            limits.memory = _marker_size(item, marker)
            limits.memory_source = "limit_memory"
        else:
            limits.leaks = _marker_size(item, marker)
            limits.filter_fn = marker.kwargs.get("filter_fn")
            if limits.filter_fn is not None and not callable(limits.filter_fn):
                raise pytest.UsageError("%s: limit_leaks(filter_fn=...) wants a function of a stack, not %r" % (item.nodeid, limits.filter_fn))
    if limits.memory is None and limits.leaks is None and default_memory is not None:
        limits.memory = default_memory
        limits.memory_source = "--memlens-limit-memory"
    return limits


def _safe_name(nodeid):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:150] or "test"


def _stack_line(stack, width=120):
    frames = stack.frames
    if not frames:
        where = "(no Python frame)"
    else:
        parts = ["%s %s:%d" % (f.function, os.path.basename(f.filename), f.lineno) for f in frames[:3]]
        where = " ← ".join(parts) + (" ← …" if len(frames) > 3 else "")
    line = "  %10s  %s" % (format_size(stack.bytes), where)
    return line if len(line) <= width else line[: width - 1] + "…"


def _stack_json(stack, depth=10):
    frames = [{"function": f.function, "file": f.filename, "line": f.lineno} for f in stack.frames[:depth]]
    return {"bytes": stack.bytes, "count": stack.count, "frames": frames}


class MemlensPlugin:
    def __init__(self, config):
        self.config = config
        default = _option(config, "memlens_limit_memory", "memlens_limit_memory")
        try:
            self.default_memory = parse_size(default) if default else None
        except ValueError as e:
            raise pytest.UsageError("--memlens-limit-memory: %s" % e)
        self.full = bool(_option(config, "memlens_full", "memlens_full"))
        self.native = bool(_option(config, "memlens_native", "memlens_native"))
        self.trace_python_allocators = bool(config.getoption("memlens_trace_python_allocators"))
        self.keep = bool(config.getoption("memlens_keep"))
        directory = _option(config, "memlens_dir", "memlens_dir")
        self.directory = os.path.abspath(directory) if directory else os.path.join(str(config.rootpath), ".memlens")
        self.json_path = _option(config, "memlens_json", "memlens_json")
        self.top = config.getoption("memlens_top") or 5
        self.worker = os.environ.get("PYTEST_XDIST_WORKER")
        self.server = None
        self.results = {}  # nodeid → what this test's report carries
        self.failures = {}  # nodeid → failure text (this process's tests)
        self.workers = {}  # worker id → its peak RSS (controller)
        self.started = time.time()

    # Checks before any test runs.

    def pytest_collection_modifyitems(self, session, config, items):
        for item in items:
            item.stash[_LIMITS] = _limits_of(item, self.default_memory)

    def pytest_sessionstart(self, session):
        agent = sys.modules.get("memlens_agent")
        if agent is not None and agent.current() is not None:
            raise pytest.UsageError("this pytest runs under memlens run or attach already: leave out --memlens, or run pytest without memlens run")

    # Each test.

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        from .tracker import Tracker

        limits = item.stash.get(_LIMITS, None) or _limits_of(item, self.default_memory)
        os.makedirs(self.directory, exist_ok=True)
        stem = _safe_name(item.nodeid) + ("." + self.worker if self.worker else "")
        capture = os.path.join(self.directory, stem + ".mlens")
        tracker = Tracker(capture, overwrite=True, aggregate=not self.full, native=self.native,
                          trace_python_allocators=self.trace_python_allocators or limits.leaks is not None)
        started = time.perf_counter()
        try:
            tracker.__enter__()
        except MemlensError as e:
            item.stash[_OUTCOME] = ("error", "memlens could not track this test: %s" % e, None)
            yield
            return
        try:
            yield
        finally:
            tracker.stop()
        seconds = time.perf_counter() - started
        item.stash[_OUTCOME] = self._judge(item, limits, capture, seconds)

    def _server(self):
        if self.server is None:
            from .results import ResultsServer

            self.server = ResultsServer()
        return self.server

    def _judge(self, item, limits, capture, seconds):
        try:
            r = self._server().load(capture, top=3, stacks_over=limits.leaks)
        except MemlensError as e:
            return ("error", "memlens could not read this test's capture %s: %s" % (capture, e), None)
        data = {
            "nodeid": item.nodeid,
            "worker": self.worker,
            "peak_bytes": r.peak_bytes,
            "peak_allocations": r.peak_allocations,
            "leaked_bytes": r.leaked_bytes,
            "leaked_allocations": r.leaked_allocations,
            "seconds_tracked": round(seconds, 6),
            "limit_memory_bytes": limits.memory,
            "limit_leaks_bytes": limits.leaks,
            "top_stack": _stack_json(r.peak_stacks[0]) if r.peak_stacks else None,
            "over_limit": False,
            "capture": None,
            "report": None,
        }
        lines = []
        if limits.memory is not None and r.peak_bytes > limits.memory:
            lines.append("memlens: the test used %s at its peak, over its limit of %s (%s); where it went:" % (
                format_size(r.peak_bytes), format_size(limits.memory), limits.memory_source))
            lines += [_stack_line(s) for s in r.peak_stacks[:3] if s.bytes * 100 >= r.peak_bytes]
        if limits.leaks is not None:
            over = [s for s in r.leak_stacks if s.bytes > limits.leaks]
            if limits.filter_fn is not None:
                over = [s for s in over if limits.filter_fn(s)]
            if over:
                lines.append("memlens: %d call stack%s leaked more than the limit of %s (limit_leaks):" % (
                    len(over), "" if len(over) == 1 else "s", format_size(limits.leaks)))
                lines += [_stack_line(s) for s in over[:3]]
                if len(over) > 3:
                    lines.append("  … and %d more" % (len(over) - 3))
        if lines or self.keep:
            data["capture"] = capture
        if lines:
            data["over_limit"] = True
            report = self._html(capture, leaks=limits.leaks is not None and limits.memory is None)
            data["report"] = report
            lines.append("  capture: %s" % capture)
            if report is not None:
                lines.append("  report:  %s" % report)
            return ("failed", "\n".join(lines), data)
        if not self.keep:
            _remove(capture)
        return ("passed", None, data)

    def _html(self, capture, leaks):
        from . import _cli

        html = capture[: -len(".mlens")] + ".html"
        args = ["flamegraph", "-f", "-o", html, capture] + (["--leaks"] if leaks else [])
        r = _cli.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return html if r.returncode == 0 and os.path.exists(html) else None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        if call.when != "call":
            return
        report = outcome.get_result()
        verdict = item.stash.get(_OUTCOME, None)
        if verdict is None:
            return
        kind, text, data = verdict
        if kind != "passed" and report.outcome != "failed":
            report.outcome = "failed"
            report.longrepr = text
        elif kind != "passed" and text:
            report.sections.append(("memlens", text))
        if data is not None:
            report.user_properties.append((PROPERTY, dict(data, outcome=report.outcome)))

    # Results, on the controller (or the only process).

    def pytest_runtest_logreport(self, report):
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == PROPERTY:
                self.results[report.nodeid] = dict(value)

    def pytest_sessionfinish(self, session):
        if self.server is not None:
            self.server.close()
            self.server = None
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: tell the controller
            workeroutput["memlens_peak_rss"] = peak_rss
            return
        self.workers.setdefault(self.worker or "main", peak_rss)
        if self.json_path:
            self._write_json()
        try:
            os.rmdir(self.directory)  # only if empty: captures of failing tests stay
        except OSError:
            pass

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error):
        output = getattr(node, "workeroutput", None) or {}
        if "memlens_peak_rss" in output:
            self.workers[output.get("workerid", getattr(node.gateway, "id", "?"))] = output["memlens_peak_rss"]

    def _session(self):
        tests = list(self.results.values())
        largest = max(tests, key=lambda t: t["peak_bytes"], default=None)
        return {
            "tests": len(tests),
            "over_limit": sum(1 for t in tests if t["over_limit"]),
            "largest_test_peak": None if largest is None else {"nodeid": largest["nodeid"], "worker": largest["worker"], "bytes": largest["peak_bytes"]},
            "total_leaked_bytes": sum(t["leaked_bytes"] for t in tests),
            "workers_peak_rss": dict(self.workers),
            "workers_peak_rss_sum": sum(self.workers.values()),
        }

    def _write_json(self):
        doc = {"schema": SCHEMA, "session": self._session(), "tests": sorted(self.results.values(), key=lambda t: t["nodeid"])}
        tmp = self.json_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(tmp, self.json_path)

    def pytest_terminal_summary(self, terminalreporter):
        if self.config.getoption("hide_memlens_summary") or not self.results:
            return
        tr = terminalreporter
        s = self._session()
        tr.write_sep("=", "memlens")
        tests = sorted(self.results.values(), key=lambda t: t["peak_bytes"], reverse=True)
        tr.write_line("Largest peaks (of %d test%s tracked):" % (len(tests), "" if len(tests) == 1 else "s"))
        for t in tests[: self.top]:
            limit = t.get("limit_memory_bytes")
            tr.write_line("  %10s  %s%s%s" % (format_size(t["peak_bytes"]), t["nodeid"],
                                              " [%s]" % t["worker"] if t.get("worker") else "",
                                              " (limit %s)" % format_size(limit) if limit is not None else ""))
        leaky = [t for t in tests if t["leaked_bytes"] > 0]
        leaky.sort(key=lambda t: t["leaked_bytes"], reverse=True)
        if leaky:
            t = leaky[0]
            tr.write_line("Most leaked: %s by %s" % (format_size(t["leaked_bytes"]), t["nodeid"]))
        if s["workers_peak_rss"]:
            per = ", ".join("%s %s" % (w, format_size(v)) for w, v in sorted(s["workers_peak_rss"].items()))
            tr.write_line("Peak RSS of the pytest process%s: %s%s" % (
                "es" if len(s["workers_peak_rss"]) > 1 else "", per,
                "; together at most %s" % format_size(s["workers_peak_rss_sum"]) if len(s["workers_peak_rss"]) > 1 else ""))
        if self.json_path:
            tr.write_line("Results of every test: %s" % self.json_path)


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


_LIMITS = pytest.StashKey()
_OUTCOME = pytest.StashKey()
