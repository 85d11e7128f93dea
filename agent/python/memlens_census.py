"""What holds the memory: a census of live Python objects by type, and reference paths to objects.

Runs inside the profiled process at a safe point (with the GIL: from the bootstrap, from an attach script or
from a pending call scheduled by the agent at near-OOM). Everything here is bounded: a census stops when its
time budget is spent and says how much of the heap it covered; a path search stops after a number of objects
and says so. Results are plain dicts that json.dumps writes as they are.

The module only reads: it never keeps a reference to what it inspects after it returns, and it disables the
cyclic GC while it walks (a collection in the middle would free objects under its feet) and restores it.
"""

import gc
import sys
import time

__all__ = ["census", "reference_paths"]

_CHECK_EVERY = 4096


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
    try:
        return len(obj)
    except Exception:
        return -1


_CONTAINERS = (list, dict, set, frozenset, tuple, bytearray)


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


def census(time_budget_s=5.0, top_types=50, top_objects=20, untracked=True):
    """Counts live objects by type: count and shallow bytes (sys.getsizeof).

    GC-tracked objects come from gc.get_objects(); objects the GC does not track (str, bytes, int, float
    and containers of only those) are found as referents of tracked ones, each counted once.
    """
    started = time.perf_counter()
    deadline = started + time_budget_s
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
            if i % _CHECK_EVERY == 0 and time.perf_counter() > deadline:
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
            for start in range(0, len(objects), _CHECK_EVERY):
                if time.perf_counter() > deadline:
                    partial = True
                    break
                for ref in _untracked_below(objects[start:start + _CHECK_EVERY], seen):
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
        return {
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
            "gc": {"enabled": was_enabled, "counts": list(gc.get_count()), "thresholds": list(gc.get_threshold()),
                   "frozen": gc.get_freeze_count() if hasattr(gc, "get_freeze_count") else None,
                   "garbage": len(gc.garbage)},
        }
    finally:
        if was_enabled:
            gc.enable()


def _root_labels():
    """id → label of the objects that keep things alive: module globals, thread frames, gc.garbage."""
    labels = {}
    for name, module in list(sys.modules.items()):
        d = getattr(module, "__dict__", None)
        if d is not None:
            labels[id(d)] = "module " + name
    try:
        import threading
        names = {t.ident: t.name for t in threading.enumerate()}
    except Exception:
        names = {}
    mine = globals()
    for ident, frame in sys._current_frames().items():
        while frame is not None:
            if frame.f_globals is not mine:  # our own frames hold the search's bookkeeping
                code = frame.f_code
                labels[id(frame)] = "thread %s, %s (%s:%d)" % (names.get(ident, ident), code.co_name, code.co_filename, frame.f_lineno)
            frame = frame.f_back
    labels[id(gc.garbage)] = "gc.garbage"
    return labels


def _edge(parent, child):
    """How parent refers to child, in Python syntax where possible."""
    if isinstance(parent, dict):
        for k, v in parent.items():
            if v is child:
                return "[%r]" % (k,)
        for k in parent:
            if k is child:
                return ".keys()"
    elif isinstance(parent, (list, tuple)):
        for i, v in enumerate(parent):
            if v is child:
                return "[%d]" % i
    elif isinstance(parent, (set, frozenset)):
        return ".{member}"
    if isinstance(parent, type) and isinstance(child, dict):
        try:
            if set(child) == set(parent.__dict__):
                return ".__dict__"
        except Exception:
            pass
    if type(parent).__name__ == "cell":
        return ".cell_contents"
    if type(parent).__name__ == "frame":
        try:
            for k, v in parent.f_locals.items():
                if v is child:
                    return " local " + str(k)
        except Exception:
            pass
    d = getattr(parent, "__dict__", None)
    if isinstance(d, dict):
        if d is child:
            return ".__dict__"
        for k, v in d.items():
            if v is child:
                return "." + str(k)
    for attr in ("__closure__", "__defaults__", "__globals__", "__self__", "__func__", "__class__"):
        try:
            if getattr(parent, attr, None) is child:
                return "." + attr
        except Exception:
            pass
    return " → " + _type_key(type(child))


def _describe(obj):
    text = _type_key(type(obj))
    n = _length(obj)
    if n >= 0 and isinstance(obj, _CONTAINERS + (str, bytes)):
        text += " (len %d)" % n
    return text


def reference_paths(targets, max_level_size=20_000, max_depth=64, time_budget_s=10.0):
    """For each target object, the shortest chain of references from a root (a module's globals, a thread's
    frame, gc.garbage) to it.

    The search goes backwards, from the target towards the roots, one level of referrers at a time
    (gc.get_referrers of a whole level is one pass over the GC's objects), so its memory is that of the
    objects on the way, not of the heap. It is bounded by depth, level size and time. A target whose referrers
    run out before any root is kept alive only by a reference cycle that nothing reachable holds (the next
    full collection frees it) or by C code.
    """
    started = time.perf_counter()
    deadline = started + time_budget_s
    was_enabled = gc.isenabled()
    gc.disable()
    results = []
    try:
        roots = _root_labels()
        ours = {id(targets), id(results)}
        for target in targets:
            results.append(_path_to(target, roots, ours, max_level_size, max_depth, deadline))
        return {"kind": "reference-paths", "pause_ms": round((time.perf_counter() - started) * 1000, 3), "results": results}
    finally:
        if was_enabled:
            gc.enable()


def _holds(container, objs_by_id):
    """The object of objs_by_id that container refers to, or None."""
    try:
        for r in gc.get_referents(container):
            hit = objs_by_id.get(id(r))
            if hit is not None and hit is r:
                return r
    except Exception:
        pass
    return None


def _untracked_holders(level_by_id, seen, refs, hits):
    """Containers the GC does not track (dicts and tuples of atomic values) that hold an object of the level:
    gc.get_referrers cannot see them, so look one step down from every tracked object (one pass). Found
    pairs go into refs/hits (parallel lists, so no new object refers to both)."""
    tracked = gc.get_objects()
    for start in range(0, len(tracked), _CHECK_EVERY):
        for r in _untracked_below(tracked[start:start + _CHECK_EVERY], set()):
            if id(r) in seen or not isinstance(r, (dict, tuple)):
                continue
            hit = _holds(r, level_by_id)
            if hit is not None:
                seen.add(id(r))
                refs.append(r)
                hits.append(hit)


def _frames_holding(level_by_id, roots, refs, hits):
    """Thread frames whose locals hold an object of the level (a running frame is not always GC-tracked)."""
    mine = globals()
    for frame in sys._current_frames().values():
        while frame is not None:
            if frame.f_globals is not mine and id(frame) in roots:
                try:
                    for v in frame.f_locals.values():
                        hit = level_by_id.get(id(v))
                        if hit is not None and hit is v:
                            refs.append(frame)
                            hits.append(v)
                            break
                except Exception:
                    pass
            frame = frame.f_back


def _path_to(target, roots, ours, max_level_size, max_depth, deadline):
    child_of = {id(target): None}  # id(referrer) -> the object it refers to, one step closer to the target
    keep = [target]                 # holds what child_of names, so ids stay unique during the search
    level = [target]
    reason = "not reachable from any root: held by a reference cycle (freed by the next full GC) or by C code"
    found = None
    ref = hit = None
    if id(target) in roots:
        found = target
    for depth in range(max_depth):
        if found is not None:
            break
        level_by_id = {id(o): o for o in level}
        refs, hits = [], []  # candidate referrers and, for each, the level object it holds
        mine = {id(level), id(keep), id(child_of), id(level_by_id), id(refs), id(hits), id(sys._getframe())} | ours
        # Call with a tuple we own: `f(*t)` passes t itself, and get_referrers would otherwise report the
        # argument tuple it was called with (a tracked object) as a referrer.
        args = tuple(level)
        referrers = gc.get_referrers(*args)
        mine.add(id(referrers))
        mine.add(id(args))
        for ref in referrers:
            if id(ref) in child_of or id(ref) in mine:
                continue
            if type(ref).__name__ == "frame" and ref.f_globals is globals():
                continue
            hit = _holds(ref, level_by_id)
            if hit is not None:
                refs.append(ref)
                hits.append(hit)
        del referrers, args
        ref = hit = None
        _frames_holding(level_by_id, roots, refs, hits)
        if not refs or any(not gc.is_tracked(o) for o in level):
            # Untracked objects are often held by untracked dicts and tuples, which get_referrers cannot see.
            _untracked_holders(level_by_id, set(child_of), refs, hits)
        nxt = []
        for i, ref in enumerate(refs):
            if id(ref) in child_of:
                continue
            child_of[id(ref)] = hits[i]
            keep.append(ref)
            if id(ref) in roots:
                found = ref
                break
            nxt.append(ref)
        refs = hits = ref = hit = None
        if found is not None or not nxt:
            break
        if len(nxt) > max_level_size or time.perf_counter() > deadline:
            reason = "the search stopped at its bound (%d levels, %d referrers) before reaching a root" % (depth + 1, len(nxt))
            break
        level = nxt
    else:
        if found is None:
            reason = "the search stopped at its depth bound before reaching a root"
    result = {"id": id(target), "target": _describe(target)}
    if found is None:
        result["path"] = None
        result["reason"] = reason
    else:
        chain = [roots[id(found)]]
        cur = found
        while child_of.get(id(cur)) is not None:
            nxt_obj = child_of[id(cur)]
            chain.append(_edge(cur, nxt_obj))
            cur = nxt_obj
        result["path"] = "".join(chain)
    keep.clear()
    child_of.clear()
    return result


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
