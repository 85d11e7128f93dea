# A program whose names carry what a terminal would obey, for test/terminal-escapes.test.ts: a function
# and a file name with ESC sequences, a C1 control and right-to-left overrides, a thread named the same,
# and output that tries the same. Every report of its capture must show them escaped.
import sys
import threading
import time

EVIL = "\x1b[2J\x1b]0;pwned\x07\x1b[31mred\u202etxt.exe\u2066\x9b1m\r"
SOURCE = """
def build():
    return [bytearray(64 * 1024) for _ in range(32)]
"""
ns = {}
exec(compile(SOURCE, "/tmp/file" + EVIL + ".py", "exec"), ns)
build = ns["build"]
code = build.__code__
build.__code__ = code.replace(co_name="build" + EVIL, co_qualname="build" + EVIL) if sys.version_info >= (3, 11) else code.replace(co_name="build" + EVIL)

kept = []


def work():
    kept.append(build())


t = threading.Thread(target=work, name="thread" + EVIL)
t.start()
t.join()
print("output" + EVIL, flush=True)
# Long enough for a live view to draw (the tests pass the seconds).
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)
print("done", len(kept))
