"""A web-style request loop whose render cache is keyed by the request's timestamp as well as its path:
every key is new, so every page is cached and none is ever served from the cache. The run ends after
2,000 requests. The verdict: memory accumulated at render."""
import time

RENDER_CACHE = {}


def render(path, user):
    key = (path, user, time.perf_counter_ns())  # a unique key per request
    page = RENDER_CACHE.get(key)
    if page is None:
        page = ("<html>" + path * 1500 + "</html>").encode()  # CAUSE
        RENDER_CACHE[key] = page
    return page


def serve():
    for n in range(2_000):
        render("/item/%d" % (n % 50), "u%d" % (n % 7))
        time.sleep(0.001)


serve()
