"""Run inside a process memlens attaches to, at a safe point (a pending call or PEP 768's remote execution),
with the GIL held. memlens placed this file, the bootstrap and the agent in a directory the target can read,
and runs this file with `exec` in a fresh namespace whose MEMLENS_ATTACH is a JSON string:

    {"action": "attach" | "detach", "dir": ..., "agent": ..., "config": {...}, "duration": seconds or null}

It never raises into the target: every outcome is written to DIR/status as one line ("ok ..." or
"error: ..."), which memlens waits for. It first takes the request (renames DIR/request.json to
DIR/request.taken); if memlens gave up waiting and withdrew it first (removed request.json), it does
nothing. Once taken, memlens waits for the outcome whatever happens on its side (a Ctrl-C, its timeout):
the target ends up either tracked and detachable, or exactly as it was.
"""


def _memlens_attach_main(request_json):
    import json
    import os
    import sys

    request = json.loads(request_json)
    directory = request["dir"]
    status_path = os.path.join(directory, "status")

    def report(text):
        tmp = status_path + ".tmp"
        _write_private(tmp, text + "\n")
        os.replace(tmp, status_path)

    interrupted = False
    try:
        try:
            # One rename against memlens's one unlink: exactly one of them wins.
            os.rename(os.path.join(directory, "request.json"), os.path.join(directory, "request.taken"))
        except OSError:
            return
        action = request["action"]
        was_tracking = _tracking()
        try:
            result = _attach(request) if action == "attach" else _census(request) if action == "census" else _detach(request)
        except KeyboardInterrupt:
            # The program's Ctrl-C, not ours: given back below, once our outcome is known.
            interrupted = True
            result = "error: interrupted by the program's SIGINT"
        except BaseException as e:  # noqa: B036 - nothing may escape into the target
            result = "error: %s: %s" % (type(e).__name__, e)
        if result.startswith("error") and action == "attach" and not was_tracking:
            # An attach that failed half way leaves nothing behind: "error" means not tracking.
            _undo_attach()
        try:
            # Writing the status is memlens's work, not the program's: not recorded.
            agent = sys.modules.get("memlens_agent")
            if agent is not None:
                agent.quiet(True)
            report(result)
        except Exception:
            pass
    finally:
        # The injected statement may have turned recording off for this thread (see injectedStatement).
        agent = sys.modules.get("memlens_agent")
        if agent is not None:
            agent.quiet(False)
        if interrupted:
            import _thread

            _thread.interrupt_main()


def _tracking():
    import sys

    agent = sys.modules.get("memlens_agent")
    return agent is not None and agent.current() is not None


def _undo_attach():
    import sys

    for _ in range(3):  # a second Ctrl-C of the program may interrupt the stop itself
        try:
            agent = sys.modules.get("memlens_agent")
            session = agent.current() if agent is not None else None
            if session is not None:
                session.stop()
            return
        except BaseException:  # noqa: B036
            pass


def _write_private(path, text):
    """Writes a new file only its owner may read (what the program is doing is nobody else's business),
    replacing whatever had the name, never writing through a link."""
    import os

    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    # The built-in open with an opener: os.fdopen would import io machinery in the target.
    with open(path, "w", opener=lambda p, _flags: os.open(p, flags, 0o600)) as f:
        f.write(text)


def _agent_module(directory):
    """memlens_agent, imported once from the attach directory and kept in sys.modules: its session is what
    the next attach or detach finds there."""
    import sys

    module = sys.modules.get("memlens_agent")
    if module is not None:
        return module
    sys.path.insert(0, directory)
    # No __pycache__ in the attach directory: it is removed file by file, never recursively.
    bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        import memlens_agent as module
    finally:
        sys.dont_write_bytecode = bytecode
        try:
            sys.path.remove(directory)
        except ValueError:
            pass
    return module


def _attach(request):
    import os
    import sys

    agent = _agent_module(request["dir"])
    running = agent.current()
    if running is not None:
        return "error: already tracking (PID %d, capture %s): run memlens detach first" % (os.getpid(), running.output)
    try:
        session = agent.AgentSession(request["agent"])
    except agent.AgentError as e:
        return "error: %s" % e
    cfg = dict(request["config"])
    options = {k: cfg[k] for k in agent.OPTIONS if k in cfg}
    options["mode"] = "attach"
    sock = None
    if cfg.get("socket"):
        import socket

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(cfg["socket"])
        options["fd"] = sock.fileno()
    session.wrap_threading()
    _hide_attach_frames(session)
    words = list(getattr(sys, "orig_argv", None) or sys.argv)[1:]
    try:
        # What this script does from here on (the status report included) is memlens's work, not the
        # program's: it stays quiet, and _memlens_attach_main hands the thread back at its end.
        session.start(cfg.get("output"), argv=words, stay_quiet=True, **options)
    except agent.AgentError as e:
        session.unwrap_threading()
        if sock is not None:
            sock.close()
        return "error: cannot start tracking: %s" % e
    # At detach (or when the duration ends): put threading back, and end the live stream.
    session.at_stop(session.unwrap_threading)
    if sock is not None:
        session.at_stop(sock.close)
    return _after_start(session, request)


def _after_start(session, request):
    import os
    import sys
    import threading

    session.name_existing_threads()
    session.stop_at_exit()
    output = session.output
    capture_inside = bool(output) and output.startswith(request["dir"] + "/")
    import atexit

    # Registered after stop_at_exit's handler, so it runs first (atexit runs handlers last in, first out).
    atexit.register(_at_exit, session, request["dir"], capture_inside)
    duration = request.get("duration")
    if duration:
        ended = os.path.join(request["dir"], "ended")

        def stop_after():
            _stop(session, "duration")
            try:
                _write_private(ended, "")  # tells memlens's collector the capture is final
            except OSError:
                pass
            try:
                sys.stderr.write("memlens: tracking stopped after %g seconds\n" % duration)
            except Exception:
                pass

        timer = threading.Timer(duration, stop_after)
        timer.daemon = True
        timer.name = "memlens-duration"
        timer.start()
        session.at_stop(timer.cancel)
    status = "ok tracking pid=%d output=%s" % (os.getpid(), session.output or "socket")
    # A second line, for memlens to show: what this session lacks (AgentSession.warning).
    return status if session.warning is None else status + "\nwarning: " + session.warning


def _census(request):
    """A census of live objects (and reference paths to the largest, or to a type's largest), written as
    JSON to DIR/census.json. Tracking is not started; nothing stays behind in the process."""
    import importlib.util
    import json
    import os
    import sys

    directory = request["dir"]
    spec = importlib.util.spec_from_file_location("memlens_census", os.path.join(directory, "memlens_census.py"))
    census = importlib.util.module_from_spec(spec)
    bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # no __pycache__ in the attach directory
    try:
        spec.loader.exec_module(census)
    finally:
        sys.dont_write_bytecode = bytecode
    options = request.get("config") or {}
    # One pause: the census, then one pass over the heap from its roots that groups the objects of the
    # largest types (or of the type asked for) by the shape of their reference path and finds the path of
    # each of the largest objects. Bounded by work (objects) and by this thread's CPU time, never by wall
    # time: a busy machine makes it slower, not shallower.
    paths = int(options.get("paths", 0))
    result = census.census_with_paths(
        top_types=int(options.get("top_types", 50)),
        search_types=int(options.get("search_types", census.SEARCH_TYPES)) if paths > 0 or options.get("type") else 0,
        type_name=options.get("type") or None,
        paths=paths or (5 if options.get("type") else 0),
    )
    result["pid"] = os.getpid()
    tmp = os.path.join(directory, "census.json.tmp")
    _write_private(tmp, json.dumps(result))
    os.replace(tmp, os.path.join(directory, "census.json"))
    return "ok census pause_ms=%s" % result["pause_ms"]


def _hide_attach_frames(session):
    """Our own frames (this script, the statement or remote-execution script that ran it) sit on top of the
    program's frames while we start tracking: hide them from stacks, and only them. Ours are the files of
    this script's own directory (the attach directory) and the statement a debugger ran ("<string>", naming
    this script): a program whose path merely contains "memlens-attach-", or whose own code is "<string>"
    (python -c), keeps its frames."""
    import os
    import sys

    here = sys._getframe(0).f_code.co_filename  # DIR/memlens_attach.py, as the statement compiled it
    directory = os.path.dirname(here) + "/"
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        name = code.co_filename
        if not (name.startswith(directory) or (name == "<string>" and here in code.co_consts)):
            break
        session.hide_code(code)
        frame = frame.f_back


def _detach(request):
    import os

    agent = _agent_module(request["dir"])
    session = agent.current()
    if session is None:
        return "error: not tracking: no earlier memlens attach in PID %d (or it has ended)" % os.getpid()
    # "interrupted" when memlens itself was stopped with Ctrl-C (the live view), else a plain detach.
    _stop(session, "interrupted" if (request.get("config") or {}).get("reason") == "interrupted" else "detach")
    return "ok detached pid=%d output=%s" % (os.getpid(), session.output or "socket")


def _at_exit(session, directory, capture_inside):
    """The program ends while tracked: the capture is finished, and the attach directory does not stay in
    /tmp. If the capture itself is in it (a target in another mount namespace), it stays for memlens's
    collector, which copies it out and removes the directory; "ended" tells it the capture is final. A session
    that ended earlier (detach, --duration) left the directory to memlens: nothing to do."""
    if not session.active:
        return
    _stop(session, "exit")
    try:
        if capture_inside:
            _write_private(directory + "/ended", "")
        else:
            _remove_directory(directory)
    except Exception:  # noqa: BLE001 - the program is ending; nothing may disturb that
        pass


def _stop(session, reason):
    """session.stop(reason); a process that an older memlens attached to keeps that memlens's agent module
    (one per process), whose stop() takes no reason: its capture then says the reason was not recorded."""
    try:
        session.stop(reason)
    except TypeError:
        session.stop()


def _remove_directory(directory):
    """Unlinks what is in the attach directory (files only: memlens makes no subdirectories) and the directory."""
    import os

    for name in os.listdir(directory):
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass
    try:
        os.rmdir(directory)
    except OSError:
        pass


_memlens_attach_main(MEMLENS_ATTACH)  # noqa: F821 - given by the exec() namespace
