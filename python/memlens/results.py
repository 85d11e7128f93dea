"""memlens.load: a capture's results as Python objects, read from `memlens results` (schema memlens.results/1,
docs/json.md). Frames are listed innermost first, with the attribute names pytest-memray's filter functions
use (function, filename, lineno)."""

import json
import os
import subprocess
from collections import namedtuple

from . import _cli
from ._errors import MemlensError

SCHEMA = "memlens.results/1"

Frame = namedtuple("Frame", ["function", "filename", "lineno"])


class Stack:
    """A call stack and what it holds: `bytes` in `count` allocations; `frames` innermost first."""

    __slots__ = ("bytes", "count", "frames")

    def __init__(self, data):
        self.bytes = data["bytes"]
        self.count = data["count"]
        self.frames = tuple(Frame(f["function"], f["file"], f["line"]) for f in data["frames"])

    def __repr__(self):
        top = self.frames[0] if self.frames else None
        where = "%s at %s:%d" % top if top else "(no Python frame)"
        return "<Stack %d bytes in %d allocations: %s>" % (self.bytes, self.count, where)


class Finding:
    """Something worth acting on (memlens verdict explains each kind): `title`, `advice`, `evidence` lines."""

    def __init__(self, data):
        self.kind = data.get("kind")
        self.title = data.get("title")
        self.advice = data.get("advice")
        self.bytes = data.get("bytes")
        self.evidence = list(data.get("evidence") or [])
        self.data = data

    def __repr__(self):
        return "<Finding %s: %s>" % (self.kind, self.title)


class Results:
    """The results of one capture.

    peak_bytes, peak_allocations, peak_time_ns, peak_stacks: the heap at its high-water mark;
    leaked_bytes, leaked_allocations, leak_stacks, leak_caveats: what was still live when tracking ended;
    verdict: how the process ended and why (a dict, as `memlens verdict --json` prints it); findings;
    capture: facts about the capture (a dict); data: the whole document.
    """

    def __init__(self, data):
        if data.get("schema") != SCHEMA:
            raise MemlensError("memlens results printed schema %r, this memlens package reads %s: reinstall memlens" % (data.get("schema"), SCHEMA))
        self.data = data
        self.path = data["path"]
        self.capture = data["capture"]
        peak = data.get("peak") or {}
        self.peak_bytes = peak.get("bytes", 0)
        self.peak_allocations = peak.get("allocations", 0)
        self.peak_time_ns = peak.get("time_ns")
        self.peak_stacks = [Stack(s) for s in peak.get("stacks", [])]
        leaks = data["leaks"]
        self.leaked_bytes = leaks["bytes"]
        self.leaked_allocations = leaks["allocations"]
        self.leak_caveats = list(leaks.get("caveats", []))
        self.leak_stacks = [Stack(s) for s in leaks["stacks"]]
        self.verdict = data["verdict"]
        self.findings = [Finding(f) for f in data.get("findings", [])]

    def __repr__(self):
        return "<memlens.Results %s: peak %d bytes, %d bytes leaked, %d findings>" % (
            self.path, self.peak_bytes, self.leaked_bytes, len(self.findings))


def _error_line(stderr):
    for line in stderr.decode("utf-8", "replace").splitlines():
        if line.startswith("memlens: error: "):
            return line[len("memlens: error: "):]
    return stderr.decode("utf-8", "replace").strip().splitlines()[-1] if stderr.strip() else "memlens results failed"


def load(path, *, top=10, stacks_over=None):
    """The results of the capture at PATH: the `top` largest stacks at the peak and among the leaks, and
    every leak stack of at least `stacks_over` bytes."""
    args = ["results", "--top", str(int(top)), os.fspath(path)]
    if stacks_over is not None:
        args[1:1] = ["--stacks-over", str(int(stacks_over))]
    r = _cli.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise MemlensError(_error_line(r.stderr))
    return Results(json.loads(r.stdout))


class ResultsServer:
    """One `memlens results --serve` process answering many requests (the pytest plugin's, one per test):
    node starts once. Not thread-safe."""

    def __init__(self, stderr=None):
        self._proc = subprocess.Popen(_cli.command(["results", "--serve"]), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=stderr, bufsize=0)

    def load(self, path, *, top=10, stacks_over=None):
        request = {"path": os.fspath(path), "top": int(top)}
        if stacks_over is not None:
            request["stacks_over"] = int(stacks_over)
        self._proc.stdin.write((json.dumps(request) + "\n").encode())
        line = self._proc.stdout.readline()
        if not line:
            raise MemlensError("memlens results --serve ended early (exit status %s)" % self._proc.poll())
        data = json.loads(line)
        if "error" in data:
            raise MemlensError(data["error"])
        return Results(data)

    def close(self):
        if self._proc.poll() is None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc.stdout.close()
