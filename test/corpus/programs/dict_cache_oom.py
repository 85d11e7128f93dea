"""A dict cache keyed by something unique per request (the request id), so it never hits and never
evicts: it grows until the OOM killer ends the process. The verdict: memory accumulated at render_page."""
import time

PAGE_CACHE = {}


def render_page(request_id, path):
    key = (request_id, path)
    page = PAGE_CACHE.get(key)
    if page is None:
        page = ("<html><body>" + path * 4000 + "</body></html>").encode()  # CAUSE
        PAGE_CACHE[key] = page
    return page


def serve():
    request_id = 0
    while True:
        request_id += 1
        render_page(request_id, "/items/%d" % (request_id % 100))
        if request_id % 50 == 0:
            time.sleep(0.005)


serve()
