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

import _thread
import sys

__all__ = ["AgentError", "AgentSession", "OPTIONS", "STOP_REASONS", "census_in_capture", "current", "quiet"]

# The options start() takes (docs/agent.md "Configuration and API"; src/process/launch.ts sends them).
OPTIONS = (
    "fd",
    "overwrite",
    "memory_interval_ms",
    "snapshot_stale_ms",
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
    "queue_limit_mib",
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

# Why tracking stopped: the TRAILER's reason numbers (docs/capture-format.md, record 15).
STOP_REASONS = {
    "detach": 2,
    "duration": 3,
    "exit": 6,
    "interrupted": 7,
    "program": 8,
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
    lib.memlens_stop.argtypes = [ctypes.c_int]
    lib.memlens_stop.restype = ctypes.c_int
    lib.memlens_active.argtypes = []
    lib.memlens_active.restype = ctypes.c_int
    lib.memlens_thread_name.argtypes = [ctypes.c_ulong, ctypes.c_char_p]
    lib.memlens_thread_name.restype = None
    lib.memlens_hide_code.argtypes = [ctypes.c_void_p]
    lib.memlens_hide_code.restype = None
    lib.memlens_gc_state_changed.argtypes = []
    lib.memlens_gc_state_changed.restype = None
    lib.memlens_thread_renamed.argtypes = [ctypes.c_ulong, ctypes.c_char_p]
    lib.memlens_thread_renamed.restype = None
    lib.memlens_thread_done.argtypes = []
    lib.memlens_thread_done.restype = None
    lib.memlens_thread_ended.argtypes = [ctypes.c_ulong]
    lib.memlens_thread_ended.restype = None
    lib.memlens_quiet.argtypes = [ctypes.c_int]
    lib.memlens_quiet.restype = None
    lib.memlens_record_census.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.memlens_record_census.restype = None
    lib.memlens_census_room.argtypes = []
    lib.memlens_census_room.restype = ctypes.c_longlong
    try:
        lib.memlens_program_end.argtypes = [ctypes.c_char_p]
        lib.memlens_program_end.restype = None
    except AttributeError:
        pass  # an agent older than PROGRAM_END, loaded by an earlier attach: the marker is left out
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
        # Near OOM the process has little room and little time: a smaller search than `memlens census PID`,
        # bounded by work and CPU time, and by memory: under a limit it stops while CENSUS_RESERVE bytes are
        # left, so that memlens's own search never ends the process (docs/census.md).
        # The census is written as soon as it is taken, then again with its paths when the search ends
        # (the same census: the same "time"; readers keep the later, src/analysis/census.ts); a near-OOM
        # record is written out before the program goes on (agent/src/census.c): an OOM kill during the
        # search does not cost the census, nor one right after it the paths.
        global _census_thread
        _census_thread = _thread.get_ident()
        try:
            result = module.census_with_paths(
                time_budget_s=2.0, search_objects=1_000_000, search_cpu_s=3.0,
                on_census=lambda r: _library.memlens_record_census(str(label).encode(), json.dumps(r).encode()),
                memory_room=_library.memlens_census_room, memory_reserve=CENSUS_RESERVE,
            )
        finally:
            _census_thread = None
        _library.memlens_record_census(str(label).encode(), json.dumps(result).encode())
    except BaseException:  # noqa: B036 - the program must not see our failure
        pass


# What the search in a capture's census leaves of the memory limit: its rendering of paths and groups, the JSON
# and the record come after it stops, and between two checks (every 256 containers and every 16,384 objects
# reached) it grows by what those add. 8 MiB left batch_oom.py's chunks uncounted when a census started a
# chunk late under 150 MB (docs/census.md).
CENSUS_RESERVE = 4 << 20

# The thread taking a census for the capture: its gc.disable()/gc.enable() are memlens's, not the program's,
# and are not reported as GC_STATE (the reports would blame the program for memlens's pause).
_census_thread = None


def _stop_for_agent():
    """Called by the agent when its capture cannot be written any more (the reader went away or fell too far
    behind, the disk is full: agent/src/selfstop.c), through a pending call: main thread, GIL held. The
    session stops, and lets go of what it holds for the session. Never raises into the program."""
    try:
        s = _current
        if s is not None:
            s.stop()
    except KeyboardInterrupt:
        # The program's Ctrl-C arrived while we ran: it gets it right after, where it would have.
        _interrupt_main()
    except Exception:  # noqa: BLE001 - the program must not see our failure
        pass


def _interrupt_main():
    try:
        import _thread

        _thread.interrupt_main()
    except Exception:  # noqa: BLE001
        pass


def _stop_at_exit():
    # The interpreter is exiting: a Ctrl-C now has nothing left to interrupt but the end of the capture, and
    # a traceback from it would land in the program's stderr. The stop is finished instead.
    s = _current
    if s is not None and s.active and s._before_exit_stop is not None:
        before, s._before_exit_stop = s._before_exit_stop, None
        # Called quiet: its own frames and work are memlens's, not the program's last allocations.
        quiet(True)
        try:
            before()
        except BaseException:  # noqa: B036 - the program's exit must not see our failure; the stop follows
            pass
        finally:
            quiet(False)
    for _ in range(3):
        try:
            s = _current
            if s is not None:
                s.stop("exit")
            return
        except KeyboardInterrupt:
            pass


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
        self._name_original = None  # Thread.name's property, while wrap_threading() wraps its setter
        self._gc_originals = {}
        # Threads that were running when tracking started: (weak reference, OS thread id). The threading
        # wrapper never runs for them, so stop() says which have ended.
        self._existing_threads = []
        self._options = None
        self._argv = None
        self._output = None
        self._follow_forks = False
        self._at_stop = []
        self._before_exit_stop = None
        self._warning = None

    # ── the session ──────────────────────────────────────────────────────────────────────────────────

    @property
    def active(self):
        """Whether this session is tracking the process now (a session that stopped is not, even while a
        later one tracks)."""
        return _current is self and bool(self._lib.memlens_active())

    @property
    def warning(self):
        """None, or one line saying what the last start() lacks: the agent cannot read this interpreter's
        frames (a version or build it does not know), so allocations are recorded without Python stacks."""
        return self._warning

    @property
    def output(self):
        """The capture file of the last start(), or None (a descriptor or socket, or not started)."""
        return self._output

    def start(self, output=None, argv=None, stay_quiet=False, **options):
        """Starts tracking into the file `output` (or into the descriptor of option fd). `argv`: the command
        line after the interpreter, for the header (default: sys.argv). Options: OPTIONS. Raises AgentError
        if the agent refuses (another session tracks, the file exists and overwrite is off, ...); tracking
        without Python stacks is no error: see `warning`. With stay_quiet, the calling thread's allocations
        stay unrecorded until quiet(False): memlens's own work between starting and the program's code
        (free-threaded builds record Python's object allocator, so even its imports would show)."""
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
        if not stay_quiet:
            quiet(False)

    def stop(self, reason="program"):
        """Stops tracking: every hook restored, every stream flushed, the TRAILER written with `reason` (a key
        of STOP_REASONS: "program" when the program itself stops tracking, the default) if this process is
        tracking; then what at_stop() registered runs."""
        global _current
        if self.active:
            self._mark_ended_existing_threads()
            self._lib.memlens_stop(STOP_REASONS.get(reason, 1))
        if _current is self:
            _current = None  # a later fork (follow_forks) starts nothing
        callbacks, self._at_stop = self._at_stop, []
        for fn in callbacks:
            try:
                fn()
            except Exception:
                pass

    def program_end(self, label):
        """Marks the end of the program this session ran (a PROGRAM_END marker, docs/capture-format.md): what
        is live now is what the program held at its end; what the caller releases after this, before stop(),
        is not the program's leak. `label`: what the caller releases next (`released`, or `kept: why`)."""
        fn = getattr(self._lib, "memlens_program_end", None)
        if fn is not None and self.active:
            fn(str(label).encode("utf-8", "replace")[:300])

    def at_stop(self, fn):
        """Calls fn() once, after the next stop() (to release what the session needed: a socket, a timer)."""
        self._at_stop.append(fn)

    def stop_at_exit(self, before_stop=None):
        """Stops tracking when the interpreter exits (an atexit handler, registered once per process: it runs
        after the handlers the program registers later, and after threading joined the program's non-daemon
        threads). `before_stop()`, if given, runs first while this session still tracks, with the calling
        thread quiet (it may hand it back with quiet(False): the bootstrap marks the program's end there,
        then releases the script's namespace with recording on, so that its frees are recorded)."""
        global _at_exit_registered
        self._before_exit_stop = before_stop
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
        # Thread.name = ... (and setName) after the thread started: a rename, from that moment on.
        prop = threading.Thread.__dict__.get("name")
        if isinstance(prop, property) and prop.fset is not None:

            def _memlens_set_name(thread, value):
                # Said before the original setter runs: on 3.14 it renames the OS thread too (to the first 15
                # bytes), which then reads as the same name, not a second rename.
                try:
                    native_id = getattr(thread, "_native_id", None)
                    if native_id is not None and thread.is_alive():
                        lib.memlens_thread_renamed(native_id, str(value).encode("utf-8", "replace")[:200])
                except Exception:
                    pass
                prop.fset(thread, value)

            threading.Thread.name = property(prop.fget, _memlens_set_name, prop.fdel, prop.__doc__)
            self._name_original = prop

    def unwrap_threading(self):
        """Puts threading back as wrap_threading() found it."""
        import threading

        if self._threading_original is not None:
            threading.Thread._bootstrap_inner = self._threading_original
            self._threading_original = None
        if self._name_original is not None:
            threading.Thread.name = self._name_original
            self._name_original = None

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
        """memlens_start: raises AgentError, or tracking runs and the calling thread is quiet (the agent left
        it so: the caller hands it back with quiet(False))."""
        import ctypes

        global _current
        err = ctypes.create_string_buffer(1024)
        if self._lib.memlens_start(config_bytes, err, len(err)) != 0:
            raise AgentError(err.value.decode("utf-8", "replace"))
        _current = self
        self._warning = None
        if err.value:
            self._warning = "CPython %s: %s; allocations are still recorded, without Python stacks (native stacks with --native)" % (
                _python_version(),
                err.value.decode("utf-8", "replace"),
            )

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
        else:
            quiet(False)  # the child's program goes on from here


def _gc_wrapper(original, lib):
    def wrapper(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        finally:
            if _census_thread is None or _census_thread != _thread.get_ident():
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
    if cfg.get("snapshot_stale_ms") is not None:
        put("snapshot_stale_ms", int(cfg["snapshot_stale_ms"]))
    if cfg.get("near_oom_permille") is not None:
        put("near_oom_permille", int(cfg["near_oom_permille"]))
    if cfg.get("census_growth"):
        put("census_growth", 1)
    for key in ("native", "trace_python_allocators", "follow_fork", "aggregate"):
        if cfg.get(key):
            put(key, 1)
    if cfg.get("max_stack_nodes"):
        put("max_stack_nodes", int(cfg["max_stack_nodes"]))
    if cfg.get("queue_limit_mib"):
        put("queue_limit_mib", int(cfg["queue_limit_mib"]))
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
    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    gil_disabled = free_threaded and not getattr(sys, "_is_gil_enabled", lambda: True)()
    put("gil_disabled", 1 if gil_disabled else 0)
    put("free_threaded", 1 if free_threaded else 0)
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
