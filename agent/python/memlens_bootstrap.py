"""memlens's bootstrap: starts the agent inside this Python process, then runs the user's program exactly
as `python3` would have.

`memlens run` starts the target Python as

    python3 -c "import sys; ...; sys.path.insert(0, DIR); import memlens_bootstrap; memlens_bootstrap.main()" \
        TARGET [ARGS...]

(src/process/launch.ts has the exact line: it imports the bootstrap without writing __pycache__ here).

with its configuration (JSON) in the environment variable MEMLENS_BOOTSTRAP, which is removed at once so
that child processes do not inherit it. TARGET is a script path, a module name or a code string, as the
configuration's "run" says ("script", "module", "code").

What python3 does and we reproduce: sys.argv, sys.path[0] (the script's real directory, the current
directory for -m, '' for -c, nothing with -P/PYTHONSAFEPATH), the __main__ module and its attributes,
runpy for -m and for directories and zip files, the exit status, SystemExit, tracebacks of unhandled
exceptions (our own frames are removed), KeyboardInterrupt ending the process by SIGINT, signals.
"""

import sys

ENV = "MEMLENS_BOOTSTRAP"

# Allocator numbers of the capture header (docs/capture-format.md, header tag 12).
_ALLOCATORS = {
    "pymalloc": 1,
    "pymalloc_debug": 2,
    "malloc": 3,
    "malloc_debug": 4,
    "mimalloc": 5,
    "mimalloc_debug": 6,
}

_agent = None
_hidden_codes = set()
_config = None
_output = None
# Threads that were running when tracking started: (weak reference, OS thread id). Our wrapper of
# Thread._bootstrap_inner never runs for them, so _stop says which have ended.
_existing_threads = []


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
    """The key=value lines memlens_start reads (agent/src/agent.c, parse_config)."""
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


def _load_agent(path):
    import ctypes

    lib = ctypes.PyDLL(path)
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
    return lib


def _start(config_bytes):
    import ctypes

    err = ctypes.create_string_buffer(1024)
    if _agent.memlens_start(config_bytes, err, len(err)) != 0:
        return err.value.decode("utf-8", "replace")
    return None


def _stop():
    if _agent is not None and _agent.memlens_active():
        _mark_ended_existing_threads()
        _agent.memlens_stop()


def _mark_ended_existing_threads():
    """A thread that ran before tracking started and has ended for the program (join() returned) may
    still be an OS thread on its way out: tell the agent, so its stream gets THREAD_EXIT."""
    for ref, native_id in _existing_threads:
        t = ref()
        try:
            if t is None or not t.is_alive():
                _agent.memlens_thread_ended(native_id)
        except Exception:
            pass
    del _existing_threads[:]


def _hide(code):
    if code not in _hidden_codes:
        _hidden_codes.add(code)
        if _agent is not None:
            _agent.memlens_hide_code(id(code))


def _name_thread(native_id, name):
    if _agent is not None and native_id is not None:
        _agent.memlens_thread_name(native_id, str(name).encode("utf-8", "replace")[:200])


def _wrap_threading():
    """Names threads as they start (THREAD_NAME) and hides threading's own frames at their root."""
    import threading

    original = threading.Thread._bootstrap_inner

    def _memlens_bootstrap_inner(self):
        try:
            _name_thread(threading.get_native_id(), self.name)
        except Exception:
            pass
        try:
            return original(self)
        finally:
            # The thread has ended for the program (join() returns next): say so now, not when the OS
            # thread is finally gone.
            if _agent is not None:
                _agent.memlens_thread_done()

    threading.Thread._bootstrap_inner = _memlens_bootstrap_inner
    _hide(threading.Thread._bootstrap.__code__)
    _hide(_memlens_bootstrap_inner.__code__)
    _hide(original.__code__)


def _census_in_capture(label):
    """Called by the agent through a pending call (main thread, GIL held, recording off): a census of live
    objects into the capture as a CENSUS record. Never raises into the program."""
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
        _agent.memlens_record_census(str(label).encode(), json.dumps(result).encode())
    except BaseException:  # noqa: B036 - the program must not see our failure
        pass


def _name_existing_threads():
    import threading
    import weakref

    current = threading.current_thread()
    del _existing_threads[:]
    for t in threading.enumerate():
        native_id = getattr(t, "native_id", None)
        _name_thread(native_id, t.name)
        if native_id is not None and t is not current and t is not threading.main_thread():
            try:
                _existing_threads.append((weakref.ref(t), native_id))
            except TypeError:
                pass


def _wrap_gc():
    """gc.disable() and friends change what GC_STATE reports: tell the agent when they are called."""
    import gc

    def wrap(name):
        original = getattr(gc, name, None)
        if original is None:
            return

        def wrapper(*args, **kwargs):
            try:
                return original(*args, **kwargs)
            finally:
                if _agent is not None:
                    _agent.memlens_gc_state_changed()

        wrapper.__name__ = original.__name__
        wrapper.__qualname__ = getattr(original, "__qualname__", original.__name__)
        wrapper.__doc__ = original.__doc__
        setattr(gc, name, wrapper)

    for name in ("enable", "disable", "set_threshold", "freeze", "unfreeze"):
        wrap(name)


def _after_fork_in_child():
    """--follow-fork: the agent stopped tracking in this child at fork; start again into its own file."""
    import os

    global _output
    if _config is None or _output is None or _config.get("fd") is not None:
        return
    stem = _output[:-6] if _output.endswith(".mlens") else _output
    _output = "%s.%d.mlens" % (stem, os.getpid())
    cfg = dict(_config)
    cfg["overwrite"] = True
    error = _start(_agent_config(cfg, _output, _config["_argv_words"]))
    if error is not None:
        sys.stderr.write("memlens: warning: not tracking child process %d: %s\n" % (os.getpid(), error))


def _install_excepthook():
    """Tracebacks of unhandled exceptions start at the program's code, as under python3."""
    original = sys.excepthook

    def _memlens_excepthook(exc_type, exc, tb):
        while tb is not None and tb.tb_frame.f_code in _hidden_codes:
            tb = tb.tb_next
        if exc is not None:
            try:
                exc.__traceback__ = tb
            except Exception:
                pass
        if sys.excepthook is _memlens_excepthook:
            sys.excepthook = original
        return original(exc_type, exc, tb)

    sys.excepthook = _memlens_excepthook


def _prepare_script(path, main_dict):
    """Reads and compiles the script before tracking starts (so the capture holds the program's
    allocations, not ours). Returns the function that runs it."""
    import io
    import os

    if os.path.isdir(path) or _is_zip(path):
        # python3 DIR or python3 ARCHIVE.zip: DIR/__main__.py through runpy, with DIR first on sys.path.
        return lambda: _run_module("__main__", False)
    # python3 makes the script's path absolute for __file__ and the code's file name (argv[0] stays).
    path = os.path.abspath(path)
    with io.open_code(path) if hasattr(io, "open_code") else open(path, "rb") as f:
        source = f.read()
    from importlib import machinery, util

    main_dict["__file__"] = path
    main_dict["__cached__"] = None
    if source[:4] == util.MAGIC_NUMBER:
        import marshal

        main_dict["__loader__"] = machinery.SourcelessFileLoader("__main__", path)
        code = marshal.loads(source[16:])
    else:
        main_dict["__loader__"] = machinery.SourceFileLoader("__main__", path)
        code = compile(source, path, "exec", dont_inherit=True)
    return lambda: _exec_main(code, main_dict)


def _exec_main(code, main_dict):
    exec(code, main_dict)


def _run_module(name, alter_argv):
    import runpy

    _hide(runpy._run_module_as_main.__code__)
    _hide(runpy._run_code.__code__)
    runpy._run_module_as_main(name, alter_argv)


def _is_zip(path):
    try:
        with open(path, "rb") as f:
            head = f.read(4)
        if head != b"PK\x03\x04":
            return False
        import zipfile

        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _hide_current_stack():
    f = sys._getframe(1)
    while f is not None:
        _hide(f.f_code)
        f = f.f_back


def main():
    import json
    import os

    global _agent, _config, _output
    raw = os.environ.pop(ENV, None)
    if raw is None:
        sys.stderr.write("memlens: the bootstrap was started without its configuration (%s)\n" % ENV)
        sys.exit(2)
    cfg = json.loads(raw)
    kind = cfg["run"]
    args = sys.argv[1:]
    if not args:
        sys.stderr.write("memlens: the bootstrap was started without a program to run\n")
        sys.exit(2)
    target, rest = args[0], args[1:]

    # What python3 would have made of its command line.
    safe_path = getattr(sys.flags, "safe_path", False)
    if kind == "script":
        sys.argv = [target] + rest
        first = os.path.dirname(os.path.realpath(target)) if not (os.path.isdir(target) or _is_zip(target)) else os.path.abspath(target)
        words = [target] + rest
        cfg.setdefault("script", target)
    elif kind == "module":
        sys.argv = ["-m"] + rest
        first = os.getcwd()
        words = ["-m", target] + rest
        cfg.setdefault("script", "-m " + target)
    else:
        sys.argv = ["-c"] + rest
        first = ""
        words = ["-c", target] + rest
        cfg.setdefault("script", "-c")
    # Our loader put the bootstrap's directory first; -c put '' after it unless safe_path.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    if not safe_path:
        if sys.path and sys.path[0] == "":
            sys.path[0] = first
        else:
            sys.path.insert(0, first)
    if hasattr(sys, "orig_argv"):
        sys.orig_argv = [sys.orig_argv[0] if sys.orig_argv else "python3"] + words
    cfg["_argv_words"] = words

    output = cfg.get("output")
    if output is not None:
        output = output.replace("{pid}", str(os.getpid()))
    _config = cfg
    _output = output

    # The __main__ module as python3 leaves it before running the program.
    main_module = sys.modules["__main__"]
    main_dict = main_module.__dict__
    for name in list(main_dict):
        if name not in ("__name__", "__doc__", "__package__", "__loader__", "__spec__", "__annotations__", "__builtins__"):
            del main_dict[name]

    if kind == "script":
        try:
            run = _prepare_script(target, main_dict)
        except OSError as e:
            sys.stderr.write("%s: can't open file %r: [Errno %d] %s\n" % (sys.executable, target, e.errno, e.strerror))
            sys.exit(2)
    elif kind == "module":
        run = lambda: _run_module(target, True)  # noqa: E731
    else:
        code = compile(target, "<string>", "exec", dont_inherit=True)
        run = lambda: _exec_main(code, main_dict)  # noqa: E731

    try:
        _agent = _load_agent(cfg["agent"])
    except OSError as e:
        sys.stderr.write("memlens: error: cannot load the agent %s: %s\n" % (cfg["agent"], e))
        sys.exit(70)
    _hide_current_stack()
    _hide(sys._getframe().f_code)
    _hide(run.__code__)
    _hide(_exec_main.__code__)
    _hide(_run_module.__code__)
    _wrap_threading()
    _wrap_gc()
    error = _start(_agent_config(cfg, output, words))
    if error is not None:
        sys.stderr.write("memlens: error: cannot start tracking: %s\n" % error)
        sys.exit(70)
    _name_existing_threads()
    import atexit

    atexit.register(_stop)
    if cfg.get("follow_fork") and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
    _install_excepthook()
    run()
