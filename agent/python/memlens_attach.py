"""Run inside a process memlens attaches to, at a safe point (a pending call or PEP 768's remote execution),
with the GIL held. memlens placed this file, the bootstrap and the agent in a directory the target can read,
and runs this file with `exec` in a fresh namespace whose MEMLENS_ATTACH is a JSON string:

    {"action": "attach" | "detach", "dir": ..., "agent": ..., "config": {...}, "duration": seconds or null}

It never raises into the target: every outcome is written to DIR/status as one line ("ok ..." or
"error: ..."), which memlens waits for. If memlens gave up waiting (DIR/cancelled exists), it does nothing.
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
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, status_path)

    try:
        if os.path.exists(os.path.join(directory, "cancelled")):
            return
        try:
            action = request["action"]
            result = _attach(request) if action == "attach" else _census(request) if action == "census" else _detach(request)
        except BaseException as e:  # noqa: B036 - nothing may escape into the target
            result = "error: %s: %s" % (type(e).__name__, e)
        try:
            report(result)
        except Exception:
            pass
    finally:
        # The injected statement may have turned recording off for this thread (see injectedStatement).
        b = sys.modules.get("memlens_bootstrap")
        if getattr(b, "_agent", None) is not None:
            b._agent.memlens_quiet(0)


def _bootstrap_module(directory):
    """memlens_bootstrap, imported once from the attach directory and kept in sys.modules: it holds the
    agent handle and what to undo at detach, and the next attach or detach finds it there."""
    import sys

    module = sys.modules.get("memlens_bootstrap")
    if module is not None:
        return module
    sys.path.insert(0, directory)
    try:
        import memlens_bootstrap as module
    finally:
        try:
            sys.path.remove(directory)
        except ValueError:
            pass
    return module


def _attach(request):
    import os
    import sys
    import threading

    b = _bootstrap_module(request["dir"])
    if b._agent is not None and b._agent.memlens_active():
        return "error: already tracking (PID %d, capture %s): run memlens detach first" % (os.getpid(), b._output)
    cfg = dict(request["config"])
    cfg["mode"] = "attach"
    output = cfg.get("output")
    if cfg.get("socket"):
        import socket

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(cfg["socket"])
        cfg["fd"] = sock.fileno()
        b._attach_socket = sock  # keeps the connection open while tracking
    if b._agent is None:
        b._agent = b._load_agent(request["agent"])
    if getattr(b, "_attach_original_bootstrap_inner", None) is None:
        b._attach_original_bootstrap_inner = threading.Thread._bootstrap_inner
        b._wrap_threading()
    _hide_attach_frames(b)
    words = list(getattr(sys, "orig_argv", None) or sys.argv)[1:]
    b._config = cfg
    b._output = output
    import ctypes

    b._agent.memlens_quiet.argtypes = [ctypes.c_int]
    b._agent.memlens_quiet.restype = None
    error = b._start(b._agent_config(cfg, output, words))
    if error is not None:
        return "error: cannot start tracking: %s" % error
    # What this script does from here on (the status report included) is memlens's work, not the
    # program's: _start left this thread quiet, and _memlens_attach_main turns it back on at its end.
    return _after_start(b, request, output)


def _after_start(b, request, output):
    import os
    import sys
    import threading

    b._name_existing_threads()
    if not getattr(b, "_attach_atexit", False):
        import atexit

        atexit.register(b._stop)
        b._attach_atexit = True
    duration = request.get("duration")
    if duration:
        ended = os.path.join(request["dir"], "ended")

        def stop_after():
            _end_tracking(b)
            try:
                open(ended, "w").close()  # tells memlens's collector the capture is final
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
        b._attach_timer = timer
    status = "ok tracking pid=%d output=%s" % (os.getpid(), output or "socket")
    # A second line, for memlens to show: what this session lacks (see the bootstrap's _start).
    return status if b._start_warning is None else status + "\nwarning: " + b._start_warning


def _census(request):
    """A census of live objects (and reference paths to the largest, or to a type's largest), written as
    JSON to DIR/census.json. Tracking is not started; nothing stays behind in the process."""
    import importlib.util
    import json
    import os

    directory = request["dir"]
    spec = importlib.util.spec_from_file_location("memlens_census", os.path.join(directory, "memlens_census.py"))
    census = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(census)
    options = request.get("config") or {}
    result = census.census(time_budget_s=float(options.get("time_budget_s", 5.0)), top_types=int(options.get("top_types", 50)))
    paths = int(options.get("paths", 0))
    if options.get("type"):
        result["paths"] = census.paths_for_type(options["type"], count=paths or 5)
    elif paths > 0:
        result["paths"] = census.paths_for_ids([o["id"] for o in result["largest_objects"][:paths]])
    result["pid"] = os.getpid()
    tmp = os.path.join(directory, "census.json.tmp")
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, os.path.join(directory, "census.json"))
    return "ok census pause_ms=%s" % result["pause_ms"]


def _hide_attach_frames(b):
    """Our own frames (this script, the statement or remote-execution script that ran it) sit on top of the
    program's frames while we start tracking: hide them from stacks, and only them."""
    import sys

    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if not (name == "<string>" or "memlens-attach-" in name):
            break
        b._hide(frame.f_code)
        frame = frame.f_back


def _detach(request):
    import os

    b = _bootstrap_module(request["dir"])
    if b._agent is None or not b._agent.memlens_active():
        return "error: not tracking: no earlier memlens attach in PID %d (or it has ended)" % os.getpid()
    timer = getattr(b, "_attach_timer", None)
    if timer is not None:
        timer.cancel()
        b._attach_timer = None
    _end_tracking(b)
    return "ok detached pid=%d output=%s" % (os.getpid(), b._output or "socket")


def _end_tracking(b):
    """Stops the agent (hooks restored, trailer written) and undoes what the attach changed in Python."""
    import threading

    b._stop()
    original = getattr(b, "_attach_original_bootstrap_inner", None)
    if original is not None:
        threading.Thread._bootstrap_inner = original
        b._attach_original_bootstrap_inner = None
    sock = getattr(b, "_attach_socket", None)
    if sock is not None:
        sock.close()
        b._attach_socket = None


_memlens_attach_main(MEMLENS_ATTACH)  # noqa: F821 - given by the exec() namespace
