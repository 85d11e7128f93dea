"""What holds the memory: a census of live Python objects by type, and the reference paths that keep them.

Runs inside the profiled process at a safe point (with the GIL: from the bootstrap, from an attach script or
from a pending call scheduled by the agent at near-OOM). Everything here is bounded by the work it does (the
objects it visits) and by the CPU time its thread spends, never by wall time: on a loaded machine the same
heap gives the same answer, later. A census or a search that stops at a bound says so and how much it
covered. Results are plain dicts that json.dumps writes as they are.

The reference-path search is breadth-first from the roots over the objects' references, in two passes (the
program's own roots, the main module and the thread frames; then the other modules' globals and gc.garbage):
it finds the shortest path from a pass's roots to every object it reaches, and groups
the objects of the types that hold the most memory by the shape of their path (`SESSIONS[*].payload`: list
indices and dict keys that vary from one object to the next are collapsed into `[*]`).

The module only reads: it never keeps a reference to what it inspects after it returns, never calls the
program's Python code (no __repr__, __eq__, __getattr__ or property of the program's classes), and disables
the cyclic GC while it walks (a collection in the middle would free objects under its feet) and restores it.
"""

import gc
import sys
import time

__all__ = ["census", "search_paths", "census_with_paths", "reference_paths", "paths_for_ids", "paths_for_type"]

_CHECK_EVERY = 4096
_HAVE_GC = 1 << 14  # Py_TPFLAGS_HAVE_GC: the type's objects may refer to others

# The bounds (docs/agent.md "The census"). A census counts objects (cheap: a few hundred ns each); the
# search keeps an entry for every container it reaches (about 100 bytes each), so its bound is lower.
CENSUS_MAX_OBJECTS = 20_000_000
SEARCH_MAX_OBJECTS = 3_000_000
CENSUS_CPU_S = 30.0
SEARCH_CPU_S = 30.0
# Types whose objects the search groups by path: the census's largest by bytes.
SEARCH_TYPES = 5
MAX_GROUPS = 40

# CPU time of this thread: unlike wall time, it does not grow when the machine is busy.
_cpu = getattr(time, "thread_time", time.process_time)


def _type_key(tp):
    # A class may shadow __module__ or __qualname__ with a descriptor (some IPython and traitlets classes
    # do): only strings name it.
    module = getattr(tp, "__module__", None)
    module = module if isinstance(module, str) and module else "?"
    name = getattr(tp, "__qualname__", None)
    if not isinstance(name, str):
        name = getattr(tp, "__name__", None)
    name = name if isinstance(name, str) else "?"
    return name if module == "builtins" else module + "." + name


def _sizeof(obj):
    try:
        return sys.getsizeof(obj)
    except Exception:  # a broken __sizeof__ must not break the census
        return 0


def _length(obj):
    if not isinstance(obj, _SIZED):
        return -1
    try:
        return len(obj)
    except Exception:
        return -1


_CONTAINERS = (list, dict, set, frozenset, tuple, bytearray)
_SIZED = _CONTAINERS + (str, bytes)


class _Bound:
    """Work, CPU-time and memory bounds: `spent(n)` is true once n objects went past the bound, the CPU
    budget is used up, or (with `room`, a function giving the bytes left before the process's memory limit,
    or a negative number without one) fewer than `reserve` bytes are left; checked every _CHECK_EVERY
    objects. `reason` says which."""

    def __init__(self, max_objects, cpu_s, room=None, reserve=0):
        self.max_objects = max_objects if max_objects and max_objects > 0 else None
        self.cpu_s = cpu_s if cpu_s and cpu_s > 0 else None
        self.cpu_deadline = _cpu() + self.cpu_s if self.cpu_s is not None else None
        self.room = room
        self.reserve = reserve
        self.reason = None

    def spent(self, n):
        if self.max_objects is not None and n >= self.max_objects:
            self.reason = "its work bound (%d objects)" % self.max_objects
            return True
        if self.cpu_deadline is not None and _cpu() > self.cpu_deadline:
            self.reason = "its CPU-time bound (%g s)" % self.cpu_s
            return True
        if self.room is not None:
            try:
                left = self.room()
            except Exception:
                left = -1
            if 0 <= left < self.reserve:
                self.reason = "its memory bound (%d MiB left before the memory limit)" % (left >> 20)
                return True
        return False


def _single_ref_baseline():
    """sys.getrefcount of an object that exactly one container refers to, seen where _untracked_below looks
    at it (the container, the local name, getrefcount's argument)."""
    holder = [object()]
    pending = gc.get_referents(holder)
    ref = pending.pop()
    del holder
    return sys.getrefcount(ref) + 1  # + the container we deleted to measure


_BASELINE = None


def _untracked_below(tracked, seen):
    """The objects the GC does not track (str, bytes, numbers, and dicts and tuples of only those) that the
    given tracked objects refer to, directly or through untracked containers; each once.

    Only objects referred to more than once can be met twice, so only their ids go into `seen`: a census
    near the memory limit must not itself need memory in proportion to the heap."""
    global _BASELINE
    if _BASELINE is None:
        _BASELINE = _single_ref_baseline()
    baseline = _BASELINE
    pending = gc.get_referents(*tracked)
    while pending:
        ref = pending.pop()
        if gc.is_tracked(ref) or type(ref) is type:
            continue
        if sys.getrefcount(ref) > baseline:
            key = id(ref)
            if key in seen:
                continue
            seen.add(key)
        yield ref
        if isinstance(ref, (dict, tuple)):
            pending.extend(gc.get_referents(ref))


def census(time_budget_s=CENSUS_CPU_S, top_types=50, top_objects=20, untracked=True, max_objects=CENSUS_MAX_OBJECTS):
    """Counts live objects by type: count and shallow bytes (sys.getsizeof).

    GC-tracked objects come from gc.get_objects(); objects the GC does not track (str, bytes, int, float
    and containers of only those) are found as referents of tracked ones, each counted once. Bounded by
    `max_objects` objects counted and by `time_budget_s` seconds of this thread's CPU time.
    """
    return _census(time_budget_s, top_types, top_objects, untracked, max_objects)[0]


def _census(time_budget_s, top_types, top_objects, untracked, max_objects, gc_enabled=None):
    """census(), and its count and bytes by type object. gc_enabled: the collector's state before a caller
    that disabled it already (census_with_paths), for the result."""
    started = time.perf_counter()
    bound = _Bound(max_objects, time_budget_s)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        objects = gc.get_objects()
        ignore = {id(objects)}
        by_type = {}
        largest = []  # (bytes, id, obj) of the biggest objects; trimmed as it grows
        covered = 0
        partial = False
        for i, obj in enumerate(objects):
            if i % _CHECK_EVERY == 0 and bound.spent(i):
                partial = True
                break
            covered = i + 1
            if id(obj) in ignore:
                continue
            size = _sizeof(obj)
            entry = by_type.get(type(obj))
            if entry is None:
                by_type[type(obj)] = [1, size]
            else:
                entry[0] += 1
                entry[1] += size
            if size > 4096:
                largest.append((size, id(obj), obj))
                if len(largest) > top_objects * 8:
                    largest.sort(key=lambda e: e[0], reverse=True)
                    del largest[top_objects:]
        untracked_seen = 0
        if untracked and not partial:
            seen = set()
            counted = covered
            for start in range(0, len(objects), _CHECK_EVERY):
                if bound.spent(counted):
                    partial = True
                    break
                for ref in _untracked_below(objects[start:start + _CHECK_EVERY], seen):
                    counted += 1
                    key = id(ref)
                    size = _sizeof(ref)
                    if size > 4096:
                        largest.append((size, key, ref))
                        if len(largest) > top_objects * 8:
                            largest.sort(key=lambda e: e[0], reverse=True)
                            del largest[top_objects:]
                    entry = by_type.get(type(ref))
                    if entry is None:
                        by_type[type(ref)] = [1, size]
                    else:
                        entry[0] += 1
                        entry[1] += size
            untracked_seen = len(seen)
            del seen
        largest.sort(key=lambda e: e[0], reverse=True)
        biggest = [
            {"type": _type_key(type(obj)), "bytes": size, "length": _length(obj), "id": key}
            for size, key, obj in largest[:top_objects]
        ]
        del largest
        types = sorted(
            ({"type": _type_key(tp), "count": c, "bytes": b} for tp, (c, b) in by_type.items()),
            key=lambda e: e["bytes"],
            reverse=True,
        )
        total_objects = len(objects)
        del objects
        result = {
            "kind": "census",
            "time": time.time(),
            "pause_ms": round((time.perf_counter() - started) * 1000, 3),
            "partial": partial,
            "tracked_objects": total_objects,
            "covered_objects": covered,
            "untracked_objects": untracked_seen,
            "types": types[:top_types] if top_types else types,
            "type_count": len(types),
            "total_count": sum(e["count"] for e in types),
            "total_bytes": sum(e["bytes"] for e in types),
            "largest_objects": biggest,
            "gc": {"enabled": was_enabled if gc_enabled is None else gc_enabled, "counts": list(gc.get_count()), "thresholds": list(gc.get_threshold()),
                   "frozen": gc.get_freeze_count() if hasattr(gc, "get_freeze_count") else None,
                   "garbage": len(gc.garbage)},
        }
        if partial:
            result["bound"] = bound.reason
        return result, by_type
    finally:
        if was_enabled:
            gc.enable()


# ── the reference-path search ─────────────────────────────────────────────────────────────────────────

_NOKEY = object()  # a step whose text is fixed (an attribute, a local), not a key that may vary
_ITEM = "[*]"
_SIMPLE_KEYS = (str, int, float, bool, bytes, type(None))
_MINE = ("memlens_census", "memlens_agent", "memlens_attach", "memlens_bootstrap")


def _key_text(k):
    """A dict key or index in Python syntax, without calling the program's code (no repr of its objects)."""
    t = type(k)
    if t is str:
        return repr(k if len(k) <= 60 else k[:57] + "...")
    if t is bytes:
        return repr(k if len(k) <= 40 else k[:37] + b"...")
    if t in (int, float, bool, type(None)):
        return repr(k)
    if t is tuple and len(k) <= 4 and all(type(x) in _SIMPLE_KEYS for x in k):
        return "(" + ", ".join(_key_text(x) for x in k) + ("," if len(k) == 1 else "") + ")"
    return "<%s>" % _type_key(t)


def _same_key(a, b):
    if a is b:
        return True
    ta = type(a)
    return ta is type(b) and ta in _SIMPLE_KEYS and a == b


_FUNCTION_ATTRS = ("__closure__", "__defaults__", "__kwdefaults__", "__globals__", "__code__", "__annotations__",
                   "__module__", "__name__", "__qualname__", "__doc__")
_PROBES = {
    "function": _FUNCTION_ATTRS,
    "method": ("__self__", "__func__"),
    "builtin_function_or_method": ("__self__",),
    "cell": ("cell_contents",),
    "generator": ("gi_frame", "gi_code"),
    "coroutine": ("cr_frame", "cr_code"),
    "async_generator": ("ag_frame", "ag_code"),
    "functools.partial": ("func", "args", "keywords"),
    "property": ("fget", "fset", "fdel"),
    "staticmethod": ("__func__",),
    "classmethod": ("__func__",),
    "weakref.ReferenceType": (),
    "frame": ("f_code", "f_globals", "f_builtins"),
}


class _Shapes:
    """What the search knows of each type: whether its objects refer to others, how to name their
    references. Built once per type."""

    def __init__(self):
        self.expand = {}
        self.attrs = {}

    def expands(self, tp):
        e = self.expand.get(tp)
        if e is None:
            try:
                e = bool(tp.__flags__ & _HAVE_GC) or _type_key(tp) == "numpy.ndarray"
            except Exception:
                e = False
            self.expand[tp] = e
        return e

    def attr_names(self, tp, obj):
        """Names of the instance attributes of tp's objects that are safe to read with
        object.__getattribute__ (no property or other descriptor of the program in the way), learned from
        the first object of the type met (the only one whose __dict__ may be made, on 3.11+)."""
        names = self.attrs.get(tp)
        if names is not None:
            return names
        names = []
        try:
            mro = tp.__mro__
            for klass in mro:
                slots = klass.__dict__.get("__slots__")
                if isinstance(slots, str):
                    slots = (slots,)
                if slots:
                    for s in slots:
                        if isinstance(s, str) and s not in ("__dict__", "__weakref__"):
                            # A private slot is stored under its mangled name.
                            if s.startswith("__") and not s.endswith("__"):
                                s = "_" + klass.__name__.lstrip("_") + s
                            names.append(s)
            if getattr(tp, "__dictoffset__", 0) and _plain_dict_descriptor(mro):
                d = object.__getattribute__(obj, "__dict__")
                if type(d) is dict:
                    names.extend(k for k in dict.keys(d) if type(k) is str)
            names = [n for n in names if _safe_attribute(mro, n)]
        except Exception:
            names = []
        names = tuple(dict.fromkeys(names))
        self.attrs[tp] = names
        return names


def _plain_dict_descriptor(mro):
    for klass in mro:
        d = klass.__dict__.get("__dict__")
        if d is not None:
            return type(d).__name__ == "getset_descriptor"
    return False


def _safe_attribute(mro, name):
    """Reading the attribute with object.__getattribute__ runs no code of the program: nothing in the
    class hierarchy is a descriptor for it, or only a slot's member descriptor."""
    for klass in mro:
        d = klass.__dict__.get(name)
        if d is not None:
            return type(d).__name__ == "member_descriptor" or not (hasattr(type(d), "__get__"))
    return True


def _instance_dict(obj):
    try:
        d = object.__getattribute__(obj, "__dict__")
    except Exception:
        return None
    return d if type(d) is dict else None


def _labelled(obj, shapes, namespace_of):
    """The references of obj as (text, key, child): `text` the step in a path (`.name`, `[*]` with `key`,
    ` local name`), in an order that puts named references first. Never calls the program's code."""
    tp = type(obj)
    out = []
    kind = namespace_of(obj)
    if kind is not None:  # a root: a module's globals
        for k, v in dict.items(obj):
            out.append(("[%s]" % _key_text(k), _NOKEY, v))
        return out
    if tp is list or tp is tuple or isinstance(obj, (list, tuple)):
        it = list.__iter__(obj) if isinstance(obj, list) else tuple.__iter__(obj)
        for i, v in enumerate(it):
            out.append((_ITEM, i, v))
    elif isinstance(obj, dict):
        for k, v in dict.items(obj):
            out.append((_ITEM, k, v))
            out.append((".keys()", _NOKEY, k))
    elif isinstance(obj, (set, frozenset)):
        for v in (set.__iter__(obj) if isinstance(obj, set) else frozenset.__iter__(obj)):
            out.append((".{member}", _NOKEY, v))
    elif isinstance(obj, type):
        try:
            for k, v in obj.__dict__.items():
                if type(k) is str:
                    out.append(("." + k, _NOKEY, v))
        except Exception:
            pass
    else:
        name = _type_key(tp)
        if name == "collections.deque":
            for i, v in enumerate(obj):
                out.append((_ITEM, i, v))
        elif name == "numpy.ndarray":
            base = getattr(obj, "base", None)
            if base is not None:
                out.append((".base", _NOKEY, base))
            return out
        elif name == "frame":
            try:
                for k, v in obj.f_locals.items():
                    out.append((" local %s" % k, _NOKEY, v))
            except Exception:
                pass
        for attr in _PROBES.get(name, ()):
            try:
                out.append(("." + attr, _NOKEY, getattr(obj, attr)))
            except Exception:
                pass
    # Instance attributes (a class's own objects, and subclasses of dict, list, ...): slots and __dict__.
    if not isinstance(obj, type) and (getattr(tp, "__dictoffset__", 0) or "__slots__" in getattr(tp, "__dict__", {})) and tp.__module__ != "builtins":
        for n in shapes.attr_names(tp, obj):
            try:
                out.append(("." + n, _NOKEY, object.__getattribute__(obj, n)))
            except Exception:
                pass
    return out


def _roots():
    """(object, label) of what keeps things alive, in the order ties are broken: the main module's globals,
    the threads' frames (innermost first), the other modules' globals, gc.garbage. memlens's own modules and
    frames are left out."""
    roots = []
    main = sys.modules.get("__main__")
    d = getattr(main, "__dict__", None)
    if isinstance(d, dict):
        roots.append((d, "module __main__"))
    try:
        import threading

        names = {t.ident: t.name for t in threading.enumerate()}
    except Exception:
        names = {}
    mine = globals()
    try:
        import os

        cwd = os.getcwd()
    except Exception:
        cwd = None
    for ident, frame in sys._current_frames().items():
        while frame is not None:
            code = frame.f_code
            # memlens's frames: this module's, its other modules', and the attach script's (run with this
            # __name__: src/process/attach.ts), not a program's whose path merely contains memlens-attach-.
            ours = frame.f_globals is mine or frame.f_globals.get("__name__") == "__memlens_attach__"
            if not ours and not any(m in code.co_filename for m in _MINE):
                roots.append((frame, "thread %s, %s (%s:%d)" % (names.get(ident, ident), code.co_name, _short_path(code.co_filename, cwd), frame.f_lineno)))
            frame = frame.f_back
    for name, module in list(sys.modules.items()):
        if name == "__main__" or name in _MINE:
            continue
        d = getattr(module, "__dict__", None)
        if isinstance(d, dict):
            roots.append((d, "module " + name))
    roots.append((gc.garbage, "gc.garbage"))
    return roots


def _short_path(filename, cwd):
    """A source file as the user names it: relative to the process's working directory when inside it."""
    if cwd and isinstance(filename, str) and filename.startswith(cwd.rstrip("/") + "/"):
        return filename[len(cwd.rstrip("/")) + 1:]
    return filename


_UNSET = object()


class _Trie:
    """Path patterns as a trie: a node is (parent, step). A step that is a key or an index remembers the
    first key of an object the search counted through it, and whether another key came (then it shows as
    [*]): keys that vary from one object to the next are collapsed, those that never do are shown."""

    def __init__(self):
        self.parent = []
        self.text = []
        self.first = []
        self.varies = []
        self.index = {}

    def root(self, label):
        return self.node(-1, label)

    def node(self, parent, text):
        n = self.index.get((parent, text))
        if n is None:
            n = len(self.parent)
            self.parent.append(parent)
            self.text.append(text)
            self.first.append(_UNSET)
            self.varies.append(False)
            self.index[(parent, text)] = n
        return n

    def note(self, n, key):
        """An object was reached through node n with this key (or index)."""
        if self.varies[n]:
            return
        first = self.first[n]
        if first is _UNSET:
            self.first[n] = key
        elif not _same_key(key, first):
            self.varies[n] = True

    def render(self, n):
        parts = []
        while n >= 0:
            text = self.text[n]
            if text is _ITEM and not self.varies[n] and self.first[n] is not _UNSET:
                text = "[%s]" % _key_text(self.first[n])
            parts.append(text)
            n = self.parent[n]
        return "".join(reversed(parts))


def _describe(obj):
    text = _type_key(type(obj))
    n = _length(obj)
    if n >= 0:
        text += " (len %d)" % n
    return text


_UNREACHED = "not reachable from any root: held by a reference cycle (freed by the next full GC) or by C code"


def search_paths(target_types=(), target_ids=(), max_objects=SEARCH_MAX_OBJECTS, cpu_budget_s=SEARCH_CPU_S, max_depth=64,
                 max_groups=MAX_GROUPS, memory_room=None, memory_reserve=0):
    """One breadth-first pass from the roots: the shortest reference path to every object it reaches.

    Objects whose type is one of `target_types` (type objects) are grouped by their path's pattern, with
    counts, shallow bytes and one real path as an example; objects whose id() is in `target_ids` get their
    own path. Memory: an entry per container reached, bounded by `max_objects`, and with `memory_room` (the
    bytes left before the process's memory limit, negative without one) the search stops while
    `memory_reserve` bytes are still left; CPU time by `cpu_budget_s`. Returns {"groups", "results", "visited", "partial", "bound", "depth", "pause_ms"}."""
    started = time.perf_counter()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        bound = _Bound(max_objects, cpu_budget_s, memory_room, memory_reserve)
        return _search(set(target_types), set(target_ids), bound, max_depth, max_groups, started)
    finally:
        if was_enabled:
            gc.enable()


class _Marks:
    """Objects the search has met, as one bit per 16 bytes of address (no two objects share 16 bytes):
    about 1% of the heap's span, where a set of ids costs some 80 bytes per object."""

    __slots__ = ("pages",)

    def __init__(self):
        self.pages = {}

    def mark(self, addr):
        """Marks addr; true if it was marked already."""
        pages = self.pages
        page = addr >> 16
        bits = pages.get(page)
        if bits is None:
            bits = pages[page] = bytearray(512)
        off = (addr >> 4) & 0xFFF
        b = bits[off >> 3]
        m = 1 << (off & 7)
        if b & m:
            return True
        bits[off >> 3] = b | m
        return False


def _search(types, ids, bound, max_depth, max_groups, started):
    from array import array

    shapes = _Shapes()
    expand = shapes.expand
    trie = _Trie()
    note = trie.note
    marks = _Marks()
    mark = marks.mark
    labels = {}  # id(root) -> its label
    # Each level of the search: the containers reached (a list), their pattern nodes and the index of the
    # container in the level before that they were reached from (arrays: 8 bytes each). A path is read back
    # through the levels; nothing else is kept per object.
    levels = []
    groups = {}  # (pattern node, type) -> [count, bytes, where the first one is]
    found = {}  # id -> where the object is, for target_ids
    # Two passes, each breadth-first: from the program's own roots (the main module, the threads' frames),
    # then from the other modules and gc.garbage. Every root is marked before either starts, so the first
    # pass stays in the program's own data (a module it reaches is a root of the second): it is small, and a
    # search that has to stop early near the memory limit has already counted what the program holds.
    roots = _roots()
    passes = ([], [])
    for obj, label in roots:
        if mark(id(obj)):
            continue
        labels[id(obj)] = label
        passes[0 if label == "module __main__" or label.startswith("thread ") else 1].append(obj)
    del roots
    namespace_of = lambda o: labels.get(id(o)) if type(o) is dict else None  # noqa: E731
    work = 0
    partial = False
    depth = 0
    level = 0
    objs = None
    nxt = nxt_pids = nxt_holders = None
    holder_index = -1

    def start_pass(pass_roots):
        """The first level of a pass: its roots (a root may be a target itself: a module's globals are a
        dict)."""
        nonlocal work
        objs, pids, holders = [], array("q"), array("q")
        for obj in pass_roots:
            pid = trie.root(labels[id(obj)])
            where = (level, len(objs), None)
            if id(obj) in ids:
                found[id(obj)] = where
            if type(obj) in types:
                groups[(pid, type(obj))] = [1, _sizeof(obj), where]
            objs.append(obj)
            pids.append(pid)
            holders.append(-1)
        work += len(objs)
        return objs, pids, holders

    def reach(child, pid, key=_NOKEY):
        # Inlined for speed: this runs once per reference of every container the search expands.
        nonlocal work
        tp = type(child)
        e = expand.get(tp)
        if e is None:
            e = shapes.expands(tp)
        if e:
            if mark(id(child)):
                return
            where = (level + 1, len(nxt), None)
            nxt.append(child)
            nxt_pids.append(pid)
            nxt_holders.append(holder_index)
        elif tp in types or id(child) in ids:
            if mark(id(child)):
                return
            where = (level, holder_index, child)
        else:
            return
        work += 1
        if key is not _NOKEY:
            note(pid, key)
        if tp in types:
            g = groups.get((pid, tp))
            if g is None:
                groups[(pid, tp)] = [1, _sizeof(child), where]
            else:
                g[0] += 1
                g[1] += _sizeof(child)
        if id(child) in ids:
            found[id(child)] = where

    for pass_roots in passes:
        if partial:
            break
        objs, pids, holders = start_pass(pass_roots)
        pass_depth = 0
        while objs and pass_depth < max_depth:
            levels.append((objs, pids, holders))
            nxt, nxt_pids, nxt_holders = [], array("q"), array("q")
            next_check = 0
            for i, obj in enumerate(objs):
                # Between containers: every 256 of them, and after every 16,384 objects reached (a level of
                # a few big lists): the memory bound is checked as often as the work it follows.
                if i % 256 == 0 or work >= next_check:
                    if bound.spent(work):
                        partial = True
                        break
                    next_check = work + 16384
                holder_index = i
                pid = pids[i]
                tp = type(obj)
                if tp is list or tp is tuple:
                    # Every item takes the same step; its index only says whether the step varies.
                    step = trie.node(pid, _ITEM)
                    for index, child in enumerate(obj):
                        reach(child, step, index)
                    continue
                if tp is dict and id(obj) not in labels:
                    step = trie.node(pid, _ITEM)
                    for k, v in obj.items():
                        reach(v, step, k)
                        if expand.get(type(k)) or shapes.expands(type(k)):
                            reach(k, trie.node(pid, ".keys()"))
                    continue
                try:
                    children = _labelled(obj, shapes, namespace_of)
                except Exception:
                    children = []
                named = {id(c) for _, _, c in children}
                for text, key, child in children:
                    reach(child, trie.node(pid, text), key)
                if tp is not dict and not isinstance(obj, type) and _type_key(tp) != "numpy.ndarray":
                    # What the labels above did not name: C-level references (and an instance's own __dict__,
                    # whose items are its attributes).
                    try:
                        refs = gc.get_referents(obj)
                    except Exception:
                        refs = []
                    for r in refs:
                        if id(r) in named or r is tp:
                            continue
                        if type(r) is dict and getattr(tp, "__dictoffset__", 0) and r is _instance_dict(obj):
                            if not mark(id(r)):
                                if dict in types:
                                    reach_dict = groups.get((trie.node(pid, ".__dict__"), dict))
                                    if reach_dict is None:
                                        groups[(trie.node(pid, ".__dict__"), dict)] = [1, _sizeof(r), (level, i, r)]
                                    else:
                                        reach_dict[0] += 1
                                        reach_dict[1] += _sizeof(r)
                                for k, v in dict.items(r):
                                    if type(k) is str:
                                        reach(v, trie.node(pid, "." + k))
                            continue
                        reach(r, trie.node(pid, " → " + _type_key(type(r))))
                    del refs
                del children, named
            else:
                objs, pids, holders = nxt, nxt_pids, nxt_holders
                pass_depth += 1
                depth = max(depth, pass_depth)
                level += 1
                continue
            break
        if objs and not partial and pass_depth >= max_depth:
            partial = True
            bound.reason = "its depth bound (%d levels)" % max_depth
    nxt = nxt_pids = nxt_holders = None

    def path_of(where):
        """The path of an object: (level, index, None) of a container, (level, holder index, obj) of
        another object."""
        lv, index, obj = where
        chain = [] if obj is None else [obj]
        while index >= 0:
            level_objs, _, level_holders = levels[lv]
            chain.append(level_objs[index])
            index = level_holders[index]
            lv -= 1
        chain.reverse()
        text = [labels.get(id(chain[0]), "?")]
        for p, c in zip(chain, chain[1:]):
            text.append(_step_text(p, c, shapes, namespace_of))
        return "".join(text)

    def describe(where):
        lv, index, obj = where
        return _describe(obj if obj is not None else levels[lv][0][index])

    out_groups = []
    for (pid, tp), (count, nbytes, where) in groups.items():
        out_groups.append({"pattern": trie.render(pid), "type": _type_key(tp), "count": count, "bytes": nbytes, "example": where})
    out_groups.sort(key=lambda g: g["bytes"], reverse=True)
    del out_groups[max_groups:]
    for g in out_groups:
        try:
            g["example"] = path_of(g["example"])
        except Exception:
            g["example"] = None
    results = {}
    for cid, where in found.items():
        try:
            results[cid] = {"id": cid, "target": describe(where), "path": path_of(where)}
        except Exception:
            results[cid] = {"id": cid, "target": "?", "path": None, "reason": "its path could not be named"}
    reached_by_type = {}
    for (pid, tp), g in groups.items():
        r = reached_by_type.setdefault(_type_key(tp), [0, 0])
        r[0] += g[0]
        r[1] += g[1]
    containers = sum(len(lv[0]) for lv in levels)
    levels.clear()
    groups.clear()
    found.clear()
    return {
        "groups": out_groups,
        "results": results,
        "reached": {t: {"count": c, "bytes": b} for t, (c, b) in reached_by_type.items()},
        "visited": work,
        "containers": containers,
        "depth": depth,
        "partial": partial,
        "bound": bound.reason if partial else None,
        "pause_ms": round((time.perf_counter() - started) * 1000, 3),
    }


def _step_text(p, c, shapes, namespace_of):
    """The concrete step from p to c, as _search took it."""
    for text, key, child in _labelled(p, shapes, namespace_of):
        if child is c:
            return text if key is _NOKEY else "[%s]" % _key_text(key)
    d = _instance_dict(p) if getattr(type(p), "__dictoffset__", 0) and not isinstance(p, type) else None
    if d is not None:
        for k, v in dict.items(d):
            if v is c and type(k) is str:
                return "." + k
    return " → " + _type_key(type(c))


# ── the census with paths, as memlens asks for it ─────────────────────────────────────────────────────


def census_with_paths(time_budget_s=CENSUS_CPU_S, top_types=50, search_types=SEARCH_TYPES, type_name=None, paths=20,
                      max_objects=CENSUS_MAX_OBJECTS, search_objects=SEARCH_MAX_OBJECTS, search_cpu_s=SEARCH_CPU_S,
                      on_census=None, memory_room=None, memory_reserve=0):
    """A census, then one reference-path search for the objects of its `search_types` largest types (or of
    the type named `type_name`: `Foo`, `module.Foo`) and for its largest objects (`paths` of them): the
    census dict with `path_groups` (objects grouped by the pattern of their path, largest first), `paths`
    (each of the largest objects' path) and `path_search` (what the search covered). With search_types 0
    and no type_name, no search.

    One pause: the collector is disabled once for both (no collection between the census and the search,
    so the ids of the census's largest objects still name them), and `pause_ms` is the whole of it.
    on_census(result), when given, is called with the census before the search starts (the near-OOM census
    writes it at once: the process may be killed before the search ends). memory_room and memory_reserve
    bound the search by memory (search_paths)."""
    started = time.perf_counter()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        result, by_type = _census(time_budget_s, top_types, 20, True, max_objects, gc_enabled=was_enabled)
        if not search_types and not type_name:
            return result
        if on_census is not None:
            on_census(result)
        ranked = sorted(by_type.items(), key=lambda e: e[1][1], reverse=True)
        if type_name:
            chosen = [tp for tp, _ in ranked if _type_key(tp) == type_name or _type_key(tp).endswith("." + type_name)]
        else:
            chosen = [tp for tp, _ in ranked[:search_types]]
        counts = {_type_key(tp): {"type": _type_key(tp), "count": c, "bytes": b} for tp, (c, b) in by_type.items() if tp in chosen}
        del by_type, ranked
        names = {_type_key(tp) for tp in chosen}
        largest = [o for o in result["largest_objects"] if not type_name or o["type"] in names][:paths]
        s = search_paths(chosen, [o["id"] for o in largest], max_objects=search_objects, cpu_budget_s=search_cpu_s,
                         memory_room=memory_room, memory_reserve=memory_reserve)
        del chosen
        result.update(_paths_fields(result, s, counts, largest))
        result["pause_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return result
    finally:
        if was_enabled:
            gc.enable()


def _paths_fields(census_result, s, counts, largest):
    groups = list(s["groups"])
    # What the census counted of a searched type and the search did not reach: held by cycles or C code.
    if not census_result.get("partial") and not s["partial"]:
        for name, c in counts.items():
            r = s["reached"].get(name, {"count": 0, "bytes": 0})
            left = c["count"] - r["count"]
            if left > 0:
                groups.append({"pattern": None, "type": name, "count": left, "bytes": max(0, c["bytes"] - r["bytes"]), "example": None, "reason": _UNREACHED})
        groups.sort(key=lambda g: g["bytes"], reverse=True)
    results = []
    for o in largest:
        r = s["results"].get(o["id"])
        if r is None:
            reason = ("the search stopped at %s before reaching it" % s["bound"]) if s["partial"] else _UNREACHED
            r = {"id": o["id"], "target": o["type"] + (" (len %d)" % o["length"] if o["length"] >= 0 else ""), "path": None, "reason": reason}
        results.append(r)
    return {
        "path_groups": groups,
        "paths": {"kind": "reference-paths", "pause_ms": s["pause_ms"], "results": results},
        "path_search": {"types": sorted(counts), "visited": s["visited"], "depth": s["depth"], "partial": s["partial"], "bound": s["bound"], "pause_ms": s["pause_ms"]},
    }


# ── paths to given objects (earlier API, kept) ────────────────────────────────────────────────────────


def reference_paths(targets, max_objects=SEARCH_MAX_OBJECTS, cpu_budget_s=SEARCH_CPU_S, max_depth=64, **_ignored):
    """For each target object, the shortest chain of references from a root (a module's globals, a thread's
    frame, gc.garbage) to it, from one search of the heap. A target the search does not reach is kept alive
    only by a reference cycle that nothing reachable holds (the next full collection frees it) or by C code.
    """
    wanted = [id(t) for t in targets]
    s = search_paths((), wanted, max_objects=max_objects, cpu_budget_s=cpu_budget_s, max_depth=max_depth)
    results = []
    for t in targets:
        r = s["results"].get(id(t))
        if r is None:
            reason = ("the search stopped at %s before reaching a root" % s["bound"]) if s["partial"] else _UNREACHED
            r = {"id": id(t), "target": _describe(t), "path": None, "reason": reason}
        results.append(r)
    return {"kind": "reference-paths", "pause_ms": s["pause_ms"], "results": results, "visited": s["visited"], "partial": s["partial"]}


def paths_for_ids(ids, **bounds):
    """reference_paths for objects named by id() (from a census's largest_objects), looked up among the GC's
    objects and their referents; ids that no longer name a live object are reported as gone."""
    wanted = set(ids)
    targets = [o for o in gc.get_objects() if id(o) in wanted]
    present = {id(o) for o in targets}
    if len(present) < len(wanted):
        tracked = gc.get_objects()
        for start in range(0, len(tracked), _CHECK_EVERY):
            for r in _untracked_below(tracked[start:start + _CHECK_EVERY], set()):
                if id(r) in wanted and id(r) not in present:
                    present.add(id(r))
                    targets.append(r)
        del tracked
    out = reference_paths(targets, **bounds)
    del targets
    out["results"].extend({"id": i, "path": None, "reason": "no longer alive"} for i in ids if i not in present)
    return out


def paths_for_type(type_name, count=5, **bounds):
    """reference_paths for the `count` largest live objects whose type is named type_name
    (`Foo`, `module.Foo` or `module.Outer.Foo`)."""
    matches = []
    for o in gc.get_objects():
        key = _type_key(type(o))
        if key == type_name or key.endswith("." + type_name):
            matches.append((_sizeof(o), id(o)))
    matches.sort(reverse=True)
    return paths_for_ids([i for _, i in matches[:count]], **bounds)
