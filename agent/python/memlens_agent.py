"""memlens's agent, from Python: loads the native agent (libmemlens_agent.so) into this interpreter and
drives a tracking session.

    session = AgentSession("/path/to/libmemlens_agent.so")
    session.wrap_threading()          # name threads, and leave threading's frames out of stacks
    session.wrap_gc()                 # GC_STATE when the program changes the collector's settings
    session.start("app.mlens", native=True)
    ...                               # every allocation of this process is recorded
    session.stop()                    # hooks restored, capture finished

The native agent tracks one session per process: start() while a session tracks raises AgentError. Every
method is called with the GIL held (the library is loaded with ctypes.PyDLL), from any thread.

Used by `memlens run` (memlens_bootstrap.py), by `memlens attach` (memlens_attach.py) and, through its
census hook, by the agent itself. Importing it only defines (and registers the module under the name the
agent's census hook looks up): it is imported before tracking starts, and what it allocates then is not the
program's.
"""

import sys

__all__ = ["AgentError", "AgentSession", "OPTIONS", "census_in_capture", "current", "quiet"]

# The options start() takes (docs/agent.md "Configuration and API"; src/process/launch.ts sends them).
OPTIONS = (
    "fd",
    "overwrite",
    "memory_interval_ms",
    "near_oom_permille",
    "census_growth",
    "native",
    "trace_python_allocators",
    "follow_fork",
    "aggregate",
    "max_stack_nodes",
    "native_unwinder",
    "sample_rate",
    "sample_exact",
    "sample_seed",
    "mode",
    "script",
)

# Allocator numbers of the capture header (docs/capture-format.md, header tag 12).
_ALLOCATORS = {
    "pymalloc": 1,
    "pymalloc_debug": 2,
    "malloc": 3,
    "malloc_debug": 4,
    "mimalloc": 5,
    "mimalloc_debug": 6,
}

# The agent's census hook finds this module by this name (agent/src/census.c), whatever it was imported as.
sys.modules.setdefault("memlens_agent", sys.modules[__name__])

_library = None  # the loaded agent: one per process (a shared library is never unloaded)
_library_path = None
_current = None  # the session that started last and has not stopped
_at_exit_registered = False
_at_fork_registered = False


class AgentError(Exception):
    """The agent could not be loaded, or tracking could not start; the message says why, in one line."""


def _load(path):
    """The agent, loaded from `path` the first time. A process has one agent: later calls get that one,
    whatever path they give (a second attach brings its own copy of the same library)."""
    global _library, _library_path
    if _library is not None:
        return _library
    import ctypes

    try:
        lib = ctypes.PyDLL(path)
    except OSError as e:
        raise AgentError("cannot load the agent %s: %s" % (path, e)) from None
    lib.memlens_start.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.memlens_start.restype = ctypes.c_int
    lib.memlens_stop.argtypes = []
    lib.memlens_stop.restype = ctypes.c_int
    lib.memlens_active.argtypes = []
    lib.memlens_active.restype = ctypes.c_int
    lib.memlens_thread_name.argtypes = [ctypes.c_ulong, ctypes.c_char_p]
    lib.memlens_thread_name.restype = None
    lib.memlens_hide_code.argtypes = [ctypes.c_void_p]
    lib.memlens_hide_code.restype = None
    lib.memlens_gc_state_changed.argtypes = []
    lib.memlens_gc_state_changed.restype = None
    lib.memlens_thread_done.argtypes = []
    lib.memlens_thread_done.restype = None
    lib.memlens_thread_ended.argtypes = [ctypes.c_ulong]
    lib.memlens_thread_ended.restype = None
    lib.memlens_quiet.argtypes = [ctypes.c_int]
    lib.memlens_quiet.restype = None
    lib.memlens_record_census.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.memlens_record_census.restype = None
    _library = lib
    _library_path = path
    return lib


def current():
    """The session that is tracking this process now, or None."""
    s = _current
    return s if s is not None and s.active else None


def quiet(on):
    """While on, the calling thread's allocations are not recorded (memlens's own Python code in a process
    it attached to). Does nothing before the agent is loaded."""
    if _library is not None:
        _library.memlens_quiet(1 if on else 0)


def census_in_capture(label):
    """Called by the agent through a pending call (main thread, GIL held, recording off): a census of live
    objects into the capture as a CENSUS record (agent/src/census.c). Never raises into the program."""
    try:
        import importlib.util
        import json
        import os

        module = sys.modules.get("memlens_census")
        if module is None:
            path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "memlens_census.py")
            spec = importlib.util.spec_from_file_location("memlens_census", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules["memlens_census"] = module
        result = module.census(time_budget_s=2.0)
        _library.memlens_record_census(str(label).encode(), json.dumps(result).encode())
    except BaseException:  # noqa: B036 - the program must not see our failure
        pass


def _stop_at_exit():
    s = _current
    if s is not None:
        s.stop()


def _after_fork_in_child():
    s = _current
    if s is not None and s._follow_forks:
        s._restart_in_child()


class AgentSession:
    """A tracking session of the native agent in this interpreter (see the module's documentation)."""

    def __init__(self, agent_path):
        """Loads the agent from `agent_path` (once per process). Raises AgentError if it cannot."""
        self._lib = _load(agent_path)
        self._hidden = set()
        self._threading_original = None
        self._gc_originals = {}
        # Threads that were running when tracking started: (weak reference, OS thread id). The threading
        # wrapper never runs for them, so stop() says which have ended.
        self._existing_threads = []
        self._options = None
        self._argv = None
        self._output = None
        self._follow_forks = False
        self._at_stop = []

    # ── the session ──────────────────────────────────────────────────────────────────────────────────

    @property
    def active(self):
        """Whether this session is tracking the process now (a session that stopped is not, even while a
        later one tracks)."""
        return _current is self and bool(self._lib.memlens_active())

    @property
    def output(self):
        """The capture file of the last start(), or None (a descriptor or socket, or not started)."""
        return self._output

    def start(self, output=None, argv=None, **options):
        """Starts tracking into the file `output` (or into the descriptor of option fd). `argv`: the command
        line after the interpreter, for the header (default: sys.argv). Options: OPTIONS. Raises AgentError
        if the agent refuses (another session tracks, the file exists and overwrite is off, ...)."""
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise TypeError("unknown option%s: %s" % ("s" if len(unknown) > 1 else "", ", ".join(unknown)))
        if output is None and options.get("fd") is None:
            raise AgentError("no output: give a capture file name (or the option fd)")
        running = current()
        if running is not None:
            where = running.output or "a descriptor"
            raise AgentError("memlens is already tracking this process (into %s): stop that session first" % where)
        words = list(sys.argv if argv is None else argv)
        self._start(_agent_config(options, output, words))
        self._options = options
        self._argv = words
        self._output = output

    def stop(self):
        """Stops tracking: every hook restored, every stream flushed, the TRAILER written (if this process is
        tracking); then what at_stop() registered runs."""
        global _current
        if self.active:
            self._mark_ended_existing_threads()
            self._lib.memlens_stop()
        if _current is self:
            _current = None  # a later fork (follow_forks) starts nothing
        callbacks, self._at_stop = self._at_stop, []
        for fn in callbacks:
            try:
                fn()
            except Exception:
                pass

    def at_stop(self, fn):
        """Calls fn() once, after the next stop() (to release what the session needed: a socket, a timer)."""
        self._at_stop.append(fn)

    def stop_at_exit(self):
        """Stops tracking when the interpreter exits (an atexit handler, registered once per process: it runs
        after the handlers the program registers later)."""
        global _at_exit_registered
        if not _at_exit_registered:
            import atexit

            atexit.register(_stop_at_exit)
            _at_exit_registered = True

    def follow_forks(self):
        """In a child made by os.fork(), where the agent stops tracking (the capture belongs to the parent),
        start again into `<stem>.<childpid>.mlens`. Not for a descriptor."""
        global _at_fork_registered
        import os

        self._follow_forks = True
        if not _at_fork_registered and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _at_fork_registered = True

    def quiet(self, on):
        """See the module function quiet()."""
        quiet(on)

    # ── what stacks leave out ────────────────────────────────────────────────────────────────────────

    def hide_code(self, code):
        """Stacks leave out frames of this code object at their root (memlens's own frames)."""
        if code not in self._hidden:
            self._hidden.add(code)
            self._lib.memlens_hide_code(id(code))

    def is_hidden(self, code):
        return code in self._hidden

    # ── threads and the collector ────────────────────────────────────────────────────────────────────

    def wrap_threading(self):
        """Names threads as they start (THREAD_NAME), says when their run() returned. threading's frames at a
        thread's root and this wrapper's stay in its stacks: reports hide them unless --show-internal-frames.
        Call before start(): the wrapping itself is not the program's."""
        import threading

        if self._threading_original is not None:
            return
        original = threading.Thread._bootstrap_inner
        lib = self._lib
        name_thread = self._name_thread

        def _memlens_bootstrap_inner(self):
            try:
                name_thread(threading.get_native_id(), self.name)
            except Exception:
                pass
            try:
                return original(self)
            finally:
                # The thread has ended for the program (join() returns next): say so now, not when the OS
                # thread is finally gone.
                lib.memlens_thread_done()

        threading.Thread._bootstrap_inner = _memlens_bootstrap_inner
        self._threading_original = original

    def unwrap_threading(self):
        """Puts threading back as wrap_threading() found it."""
        import threading

        if self._threading_original is not None:
            threading.Thread._bootstrap_inner = self._threading_original
            self._threading_original = None

    def wrap_gc(self):
        """gc.disable() and friends change what GC_STATE reports: tell the agent when they are called."""
        import gc

        for name in ("enable", "disable", "set_threshold", "freeze", "unfreeze"):
            original = getattr(gc, name, None)
            if original is None or name in self._gc_originals:
                continue
            setattr(gc, name, _gc_wrapper(original, self._lib))
            self._gc_originals[name] = original

    def unwrap_gc(self):
        """Puts gc's functions back as wrap_gc() found them."""
        import gc

        for name, original in self._gc_originals.items():
            setattr(gc, name, original)
        self._gc_originals = {}

    def name_existing_threads(self):
        """THREAD_NAME for the threads running now (call right after start()); stop() will say which of them
        have ended."""
        import threading
        import weakref

        current_thread = threading.current_thread()
        del self._existing_threads[:]
        for t in threading.enumerate():
            native_id = getattr(t, "native_id", None)
            self._name_thread(native_id, t.name)
            if native_id is not None and t is not current_thread and t is not threading.main_thread():
                try:
                    self._existing_threads.append((weakref.ref(t), native_id))
                except TypeError:
                    pass

    # ── inside ───────────────────────────────────────────────────────────────────────────────────────

    def _start(self, config_bytes):
        import ctypes

        global _current
        err = ctypes.create_string_buffer(1024)
        if self._lib.memlens_start(config_bytes, err, len(err)) != 0:
            raise AgentError(err.value.decode("utf-8", "replace"))
        _current = self

    def _name_thread(self, native_id, name):
        if native_id is not None:
            self._lib.memlens_thread_name(native_id, str(name).encode("utf-8", "replace")[:200])

    def _mark_ended_existing_threads(self):
        """A thread that ran before tracking started and has ended for the program (join() returned) may
        still be an OS thread on its way out: tell the agent, so its stream gets THREAD_EXIT."""
        for ref, native_id in self._existing_threads:
            t = ref()
            try:
                if t is None or not t.is_alive():
                    self._lib.memlens_thread_ended(native_id)
            except Exception:
                pass
        del self._existing_threads[:]

    def _restart_in_child(self):
        """follow_forks(): the agent stopped tracking in this child at fork; start again into its own file."""
        import os

        if self._options is None or self._output is None or self._options.get("fd") is not None:
            return
        stem = self._output[:-6] if self._output.endswith(".mlens") else self._output
        self._output = "%s.%d.mlens" % (stem, os.getpid())
        options = dict(self._options)
        options["overwrite"] = True
        try:
            self._start(_agent_config(options, self._output, self._argv))
        except AgentError as e:
            sys.stderr.write("memlens: warning: not tracking child process %d: %s\n" % (os.getpid(), e))


def _gc_wrapper(original, lib):
    def wrapper(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        finally:
            lib.memlens_gc_state_changed()

    wrapper.__name__ = original.__name__
    wrapper.__qualname__ = getattr(original, "__qualname__", original.__name__)
    wrapper.__doc__ = original.__doc__
    return wrapper


# ── the configuration the native agent reads ─────────────────────────────────────────────────────────


def _escape(value):
    """A configuration value for the agent: bytes with backslash, newline, CR and NUL escaped."""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    out = bytearray()
    for b in value:
        if b == 0x5C:
            out += b"\\\\"
        elif b == 0x0A:
            out += b"\\n"
        elif b == 0x0D:
            out += b"\\r"
        elif b == 0:
            out += b"\\x00"
        else:
            out.append(b)
    return bytes(out)


def _python_version():
    v = sys.version_info
    s = "%d.%d.%d" % (v.major, v.minor, v.micro)
    if v.releaselevel != "final":
        s += {"alpha": "a", "beta": "b", "candidate": "rc"}.get(v.releaselevel, v.releaselevel) + str(v.serial)
    return s


def _allocator(sysconfig):
    import os

    name = os.environ.get("PYTHONMALLOC", "")
    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    default = "mimalloc" if free_threaded else ("pymalloc" if sysconfig.get_config_var("WITH_PYMALLOC") != 0 else "malloc")
    debug_hooks = hasattr(sys, "gettotalrefcount") or sys.flags.dev_mode
    if name == "debug":
        return _ALLOCATORS[default + "_debug"]
    if name in _ALLOCATORS:
        return _ALLOCATORS[name]
    return _ALLOCATORS[default + "_debug" if debug_hooks else default]


def _agent_config(cfg, output, target_words):
    """The key=value lines memlens_start reads (agent/src/config.c)."""
    import os
    import sysconfig

    lines = []

    def put(key, value):
        lines.append(key.encode() + b"=" + _escape(value if isinstance(value, (str, bytes)) else str(value)))

    if cfg.get("fd") is not None:
        put("fd", int(cfg["fd"]))
    else:
        put("output", output)
    put("overwrite", 1 if cfg.get("overwrite") else 0)
    put("memory_interval_ms", int(cfg.get("memory_interval_ms", 10)))
    if cfg.get("near_oom_permille") is not None:
        put("near_oom_permille", int(cfg["near_oom_permille"]))
    if cfg.get("census_growth"):
        put("census_growth", 1)
    for key in ("native", "trace_python_allocators", "follow_fork", "aggregate"):
        if cfg.get(key):
            put(key, 1)
    if cfg.get("max_stack_nodes"):
        put("max_stack_nodes", int(cfg["max_stack_nodes"]))
    if cfg.get("native_unwinder"):
        put("native_unwinder", cfg["native_unwinder"])
    for key in ("sample_rate", "sample_exact", "sample_seed"):
        if cfg.get(key):
            put(key, int(cfg[key]))
    put("mode", cfg.get("mode", "run"))
    put("python_version", _python_version())
    put("python_hexversion", sys.hexversion)
    put("python_implementation", sys.implementation.name)
    put("python_allocator", _allocator(sysconfig))
    gil_disabled = bool(sysconfig.get_config_var("Py_GIL_DISABLED")) and not getattr(sys, "_is_gil_enabled", lambda: True)()
    put("gil_disabled", 1 if gil_disabled else 0)
    put("executable", sys.executable or "")
    try:
        put("cwd", os.getcwd())
    except OSError:
        pass
    paths = sysconfig.get_paths()
    seen = set()
    for key in ("stdlib", "platstdlib"):
        p = paths.get(key)
        if p and p not in seen:
            seen.add(p)
            put("stdlib_dir", p)
    seen = set()
    for key in ("purelib", "platlib"):
        p = paths.get(key)
        if p and p not in seen:
            seen.add(p)
            put("site_packages", p)
    for p in sys.path:
        put("sys_path", p)
    for word in [sys.executable or "python3"] + target_words:
        put("argv", word)
    put("script", cfg.get("script", ""))
    return b"\n".join(lines) + b"\n"
