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

The program's end (docs/capture-format.md, PROGRAM_END): when the interpreter exits, after the program's
code, its non-daemon threads (threading joins them first) and its own exit handlers, the session's exit
handler marks the end, then releases the script's namespace as the interpreter's teardown would (its names
set to None, underscored names first, dunder names kept), collects cycles once and stops tracking. So what
only the script's module-level names held is freed while tracking still runs, and "live at the end" is
what the program left behind beyond them. While another Python thread still runs (a daemon thread) the
namespace is kept: that thread may still read it, and the interpreter stops such threads before it clears
modules.
"""

import sys

import memlens_agent

ENV = "MEMLENS_BOOTSTRAP"

_session = None


def _install_excepthook():
    """Tracebacks of unhandled exceptions start at the program's code, as under python3."""
    original = sys.excepthook

    def _memlens_excepthook(exc_type, exc, tb):
        while tb is not None and _session is not None and _session.is_hidden(tb.tb_frame.f_code):
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
    if sys.version_info < (3, 15):
        main_dict["__cached__"] = None  # 3.15 no longer sets it for the main script
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
    # runpy's frames are in the program's stacks and tracebacks, as under python3 -m (reports hide them
    # unless --show-internal-frames).
    import runpy

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


def _running(thread):
    """Whether a thread threading lists still runs: a dummy thread (one threading did not start) says it is
    alive for ever, so its OS thread is asked."""
    import os

    if not thread.is_alive():
        return False
    native_id = getattr(thread, "native_id", None)
    return native_id is None or os.path.exists("/proc/self/task/%d" % native_id)


def _program_end(main_dict):
    """Run by the session's exit handler just before it stops: the PROGRAM_END marker, then the script's
    namespace released and one collection (see the module's documentation)."""
    # Called quiet (memlens_agent._stop_at_exit): up to the marker this is memlens's work, unrecorded (an
    # allocation of the main thread here would read as the program's last, the end of what it was doing).
    try:
        import threading

        main = threading.main_thread()
        running = [t for t in threading.enumerate() if t is not main and _running(t)]
        if running:
            names = ", ".join(sorted(repr(t.name) for t in running)[:3])
            more = " and %d more" % (len(running) - 3) if len(running) > 3 else ""
            label = "kept: %d other thread%s still running (%s%s)" % (len(running), "" if len(running) == 1 else "s", names, more)
        else:
            label = "released"
        del running
        _session.program_end(label)
    finally:
        _session.quiet(False)
    if label != "released":
        return
    # As CPython's module teardown does (_PyModule_ClearDict): values set to None, names with one leading
    # underscore first; dunder names stay (the module's own bookkeeping, not the program's data).
    names = [k for k in list(main_dict) if isinstance(k, str) and not (k.startswith("__") and k.endswith("__"))]
    for first in (True, False):
        for k in names:
            if (k.startswith("_") and not k.startswith("__")) == first:
                try:
                    main_dict[k] = None
                except Exception:
                    pass
    del names
    import gc

    gc.collect()


def _hide_current_stack():
    f = sys._getframe(1)
    while f is not None:
        _session.hide_code(f.f_code)
        f = f.f_back


def _parse_config(raw):
    """The configuration memlens wrote (JSON.stringify of a flat object). Through the json package's C
    scanner alone: `import json` brings in re and enum, a quarter of what the bootstrap itself costs on a
    short run (docs/benchmarks.md, "Fixed cost"). Anything the scanner cannot take goes to json.loads."""
    try:
        import _json

        class _Context(object):
            strict = True
            object_hook = None
            object_pairs_hook = None
            array_hook = None  # 3.15
            parse_float = float
            parse_int = int
            parse_constant = None
            memo = {}

        value, end = _json.make_scanner(_Context())(raw, 0)
        if end == len(raw) and isinstance(value, dict):
            return value
    except Exception:  # noqa: BLE001 - json.loads says what is wrong
        pass
    import json

    return json.loads(raw)


def main():
    import os

    global _session
    raw = os.environ.pop(ENV, None)
    if raw is None:
        sys.stderr.write("memlens: the bootstrap was started without its configuration (%s)\n" % ENV)
        sys.exit(2)
    cfg = _parse_config(raw)
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

    output = cfg.get("output")
    if output is not None:
        output = output.replace("{pid}", str(os.getpid()))

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
        _session = memlens_agent.AgentSession(cfg["agent"])
    except memlens_agent.AgentError as e:
        sys.stderr.write("memlens: error: %s\n" % e)
        sys.exit(70)
    _hide_current_stack()
    _session.hide_code(sys._getframe().f_code)
    _session.hide_code(run.__code__)
    _session.hide_code(_exec_main.__code__)
    _session.hide_code(_run_module.__code__)
    _session.wrap_threading()
    _session.wrap_gc()
    options = {k: cfg[k] for k in memlens_agent.OPTIONS if k in cfg}
    try:
        _session.start(output, argv=words, stay_quiet=True, **options)
    except memlens_agent.AgentError as e:
        sys.stderr.write("memlens: error: cannot start tracking: %s\n" % e)
        sys.exit(70)
    # What the bootstrap does from here until the program runs is memlens's work, not the program's (its
    # imports allocate Python objects, which are recorded on free-threaded builds).
    try:
        if _session.warning is not None:
            sys.stderr.write("memlens: warning: %s\n" % _session.warning)
        _session.name_existing_threads()
        _session.stop_at_exit(before_stop=lambda: _program_end(main_dict))
        if cfg.get("follow_fork"):
            _session.follow_forks()
        _install_excepthook()
    finally:
        _session.quiet(False)
    run()
