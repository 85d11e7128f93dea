"""A global registry of listeners: at start a few are registered for good, then a feature switches on
halfway through the run and every request registers a listener (with its 20 KiB context) that is never
unregistered. The registry only grows, up to the end. The verdict: a collection that only grows, at
Listener.__init__."""
import time

REGISTRY = []


class Listener:
    def __init__(self, name):
        self.name = name
        self.context = bytearray(20 * 1024)  # CAUSE

    def __call__(self, event):
        return len(self.context) + len(event)


def register(name):
    REGISTRY.append(Listener(name))


def handle(request, leaky):
    body = bytes(2048) * 4  # the request's own work, freed when it returns
    if leaky:
        register("request-%d" % request)
    time.sleep(0.002)
    return len(body)


def main():
    for name in ("audit", "metrics", "log", "trace", "cache"):
        register(name)
    for request in range(300):  # the same work before the feature is switched on...
        handle(request, leaky=False)
    for request in range(300, 600):  # ...and after: each request leaves a listener behind
        handle(request, leaky=True)


main()
