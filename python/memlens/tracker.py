"""memlens.Tracker: track this interpreter's allocations into a capture, with the agent `memlens run` uses.

The agent's Python side is memlens_agent (the module `memlens run` and `memlens attach` load too). It is
imported once, under that name, so that a later `memlens attach` or `memlens detach` of this process finds
the same session, and a Tracker sees tracking that `memlens run` or `memlens attach` started.
"""

import functools
import importlib.util
import os
import sys
import threading

from . import _paths
from ._errors import MemlensError

_lock = threading.Lock()
_active = None  # the Tracker that is tracking, if any


def _agent_module():
    module = sys.modules.get("memlens_agent")
    if module is not None:
        return module
    path = os.path.join(_paths.AGENT_PYTHON_DIR, "memlens_agent.py")
    if not os.path.exists(path):
        raise MemlensError("this memlens installation has no agent module (%s is missing): reinstall memlens" % path)
    spec = importlib.util.spec_from_file_location("memlens_agent", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["memlens_agent"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["memlens_agent"]
        raise
    return module


def _check_platform():
    if not sys.platform.startswith("linux"):
        raise MemlensError("memlens.Tracker needs Linux (this is %s); memlens.load works anywhere" % sys.platform)
    if not os.path.exists(_paths.AGENT_LIBRARY):
        raise MemlensError(
            "this memlens installation has no agent for this machine (%s is missing): reinstall memlens; on a "
            "platform without a prebuilt wheel pip builds the agent from the sdist, which needs a C compiler (gcc or clang)"
            % _paths.AGENT_LIBRARY
        )


class Tracker:
    """Tracks the allocations of this Python process, all threads, into the capture FILE_NAME.

    A context manager (`with memlens.Tracker("out.mlens"): ...`) and a decorator (`@memlens.Tracker(...)`:
    each call of the function is tracked, and writes the file anew; put {n} in the name to keep one file
    per call). One Tracker tracks at a time in a process; a Tracker object tracks once.

    native: record native (C/C++) stacks too. trace_python_allocators: record every Python object
    allocation (pymalloc), not only the system allocator's. aggregate: aggregate in the process (a small
    capture of stacks and totals). follow_fork: forked children write FILE_NAME's stem.<pid>.mlens.
    overwrite: replace FILE_NAME if it exists (otherwise that is an error).
    """

    def __init__(self, file_name, *, native=False, trace_python_allocators=False, aggregate=False, follow_fork=False,
                 memory_interval_ms=10, overwrite=False):
        if not isinstance(file_name, (str, os.PathLike)):
            raise TypeError("memlens.Tracker wants a file name, not %r" % (file_name,))
        if int(memory_interval_ms) < 1:
            raise ValueError("memlens.Tracker: memory_interval_ms wants a whole number >= 1, not %r" % (memory_interval_ms,))
        self.file_name = os.fspath(file_name)
        self.native = bool(native)
        self.trace_python_allocators = bool(trace_python_allocators)
        self.aggregate = bool(aggregate)
        self.follow_fork = bool(follow_fork)
        self.memory_interval_ms = int(memory_interval_ms)
        self.overwrite = bool(overwrite)
        self._state = "new"  # new → tracking → done
        self._session = None
        self._calls = 0

    def __repr__(self):
        return "memlens.Tracker(%r, %s)" % (self.file_name, self._state)

    @property
    def path(self):
        """The capture's absolute path."""
        return os.path.abspath(self.file_name)

    # The context manager.

    def __enter__(self):
        global _active
        if self._state != "new":
            raise MemlensError("this memlens.Tracker has %s already: a Tracker tracks once, create a new one" % (
                "started" if self._state == "tracking" else "run"))
        _check_platform()
        with _lock:
            if _active is not None:
                raise MemlensError("memlens.Tracker(%r) is tracking already: trackers do not nest, end it first" % _active.file_name)
            agent = _agent_module()
            running = agent.current()
            if running is not None:
                raise MemlensError("this process is tracked already (capture %s, by memlens run or attach): "
                                   "a Tracker cannot start inside it" % (running.output or "a socket"))
            if os.path.exists(self.file_name) and not self.overwrite:
                raise MemlensError("%s exists: pass overwrite=True or choose another file name" % self.file_name)
            directory = os.path.dirname(self.path)
            if not os.path.isdir(directory):
                raise MemlensError("cannot write %s: the directory %s does not exist" % (self.file_name, directory))
            self._start(agent)
            self._state = "tracking"
            _active = self
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        """Ends tracking (what `with` does at its end); the capture is complete when this returns."""
        global _active
        with _lock:
            if self._state != "tracking":
                return
            try:
                self._session.stop()  # a later fork starts nothing either
            finally:
                self._session.unwrap_threading()
                self._state = "done"
                _active = None

    def results(self, **options):
        """memlens.load(this capture): the results once tracking has ended."""
        if self._state != "done":
            raise MemlensError("the capture %s is not complete until the Tracker ends" % self.file_name)
        from .results import load

        return load(self.file_name, **options)

    # The decorator.

    def __call__(self, func):
        if not callable(func):
            raise TypeError("memlens.Tracker decorates a function, not %r" % (func,))

        @functools.wraps(func)
        def memlens_tracked(*args, **kwargs):
            self._calls += 1
            name = self.file_name.replace("{n}", str(self._calls)).replace("{pid}", str(os.getpid()))
            tracker = Tracker(name, native=self.native, trace_python_allocators=self.trace_python_allocators,
                              aggregate=self.aggregate, follow_fork=self.follow_fork,
                              memory_interval_ms=self.memory_interval_ms, overwrite=True)
            with tracker:
                return func(*args, **kwargs)

        _hidden.add(memlens_tracked.__code__)
        return memlens_tracked

    # Starting the agent.

    def _start(self, agent):
        try:
            session = agent.AgentSession(_paths.AGENT_LIBRARY)
        except agent.AgentError as e:
            raise MemlensError(str(e))
        for code in _hidden:
            session.hide_code(code)
        options = {
            "overwrite": True,  # checked above
            "memory_interval_ms": self.memory_interval_ms,
            "native": self.native,
            "trace_python_allocators": self.trace_python_allocators,
            "aggregate": self.aggregate,
            "follow_fork": self.follow_fork,
            "mode": "attach",  # the program was running before tracking started
        }
        words = list(getattr(sys, "orig_argv", None) or [sys.executable] + sys.argv)[1:]
        options["script"] = " ".join(words)[:200]
        session.wrap_threading()
        try:
            # What follows start is ours, not the program's: the thread stays quiet until the finally below.
            session.start(self.path, argv=words, stay_quiet=True, **options)
        except agent.AgentError as e:
            session.unwrap_threading()
            raise MemlensError("cannot start tracking into %s: %s" % (self.file_name, e))
        try:
            self._session = session
            session.name_existing_threads()
            if self.follow_fork:
                session.follow_forks()
        finally:
            session.quiet(False)


# Code objects of ours that sit on tracked stacks (the decorator's wrapper): hidden from reports.
_hidden = set()
