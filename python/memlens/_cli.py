"""The `memlens` command and `python -m memlens`: run the CLI bundle under node, as node itself."""

import os
import sys

from . import _paths
from ._errors import MemlensError
from ._node import find_node

# The CLI runs node with this flag (src/cli/node-flags.ts says why); passing it here saves a relaunch.
NODE_FLAGS = ["--single-threaded-gc", "--no-concurrent-recompilation"]


def command(args):
    """The argv that runs `memlens ARGS...`."""
    if not os.path.exists(_paths.CLI_SCRIPT):
        raise MemlensError("this memlens installation has no CLI (%s is missing): reinstall memlens" % _paths.CLI_SCRIPT)
    return [find_node()] + NODE_FLAGS + [_paths.CLI_SCRIPT] + list(args)


def run(args, **kwargs):
    """Runs `memlens ARGS...` as a child process (subprocess.run's keyword arguments)."""
    # Here, not at the top: the `memlens` command execs node and never needs it (4 ms of its start).
    import subprocess

    return subprocess.run(command(args), **kwargs)


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    try:
        cmd = command(args)
    except MemlensError as e:
        sys.stderr.write("memlens: error: %s\n" % e)
        return 2
    sys.stdout.flush()
    sys.stderr.flush()
    # NODE_EXTRA_CA_CERTS is set aside while node starts, as bin/memlens.js's first line does: Node 20 parses
    # the file at every start (40 ms of CPU for a common bundle); the CLI puts it back at once, and starts
    # again with it to push over https (src/util/extra-ca.ts).
    env = os.environ
    if env.get("NODE_EXTRA_CA_CERTS"):
        env = dict(env, MLENS_CA=env["NODE_EXTRA_CA_CERTS"], NODE_EXTRA_CA_CERTS="")
    # Replaced by node: its exit status, signals and terminal are the command's own.
    try:
        os.execve(cmd[0], cmd, env)
    except OSError as e:
        sys.stderr.write("memlens: error: cannot start %s: %s\n" % (cmd[0], e))
        return 70
    return 70  # not reached
