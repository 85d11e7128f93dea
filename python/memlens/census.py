"""memlens.census(): live objects of this interpreter by type, taken in process with the census code
`memlens census PID` injects (agent/python/memlens_census.py): bounded by a time budget, and it says how
much of the heap it covered."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile

from . import _cli, _paths
from ._errors import MemlensError


def _module():
    module = sys.modules.get("memlens_census")
    if module is None:
        path = os.path.join(_paths.AGENT_PYTHON_DIR, "memlens_census.py")
        if not os.path.exists(path):
            raise MemlensError("this memlens installation has no census module (%s is missing): reinstall memlens" % path)
        spec = importlib.util.spec_from_file_location("memlens_census", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["memlens_census"] = module
    return module


class Census:
    """A census: `types` (dicts: "type", "count", "bytes", largest first), `largest_objects`,
    `pause_ms`, and `data`, the whole JSON-ready dict (what `memlens census PID --json` prints)."""

    def __init__(self, data):
        self.data = data
        self.types = data.get("types", [])
        self.largest_objects = data.get("largest_objects", [])
        self.pause_ms = data.get("pause_ms")

    def text(self, top=25):
        """The census as `memlens census` prints it."""
        directory = tempfile.mkdtemp(prefix="memlens-census-")
        # The report's title names the file: let it name the process.
        path = os.path.join(directory, "python-pid-%s.json" % self.data.get("pid", "unknown"))
        try:
            with open(path, "w") as f:
                json.dump(self.data, f)
            r = _cli.run(["census", os.path.basename(path), "--rows", str(int(top))], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=dict(os.environ, NO_COLOR="1"), cwd=directory)
            if r.returncode != 0:
                raise MemlensError(r.stderr.decode("utf-8", "replace").strip().splitlines()[0])
            return r.stdout.decode("utf-8", "replace")
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def __repr__(self):
        return "<memlens.Census: %d types, %s ms pause>" % (len(self.types), self.pause_ms)


def census(*, time_budget_s=5.0, top_types=50, paths=0):
    """Takes a census of this interpreter's live objects now (the GIL is held meanwhile, at most about
    `time_budget_s` of CPU time for the census). With `paths`, also the reference paths that keep the largest
    objects alive, and the largest types' objects grouped by the shape of their path."""
    module = _module()
    if paths:
        # One pass over the heap: the paths of the largest objects and the largest types' objects grouped
        # by the shape of their path (`path_groups`).
        result = module.census_with_paths(time_budget_s=float(time_budget_s), top_types=int(top_types), paths=int(paths))
    else:
        result = module.census(time_budget_s=float(time_budget_s), top_types=int(top_types))
    result["pid"] = os.getpid()
    return Census(result)
