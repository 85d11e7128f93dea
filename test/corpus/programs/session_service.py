"""A service whose session dict grows without end: every tick new sessions arrive (each with a 48 KiB
payload) and none ever expires. Run by itself and seen through memlens attach (aggregated or not). The
verdict: memory accumulated at Session.__init__. Prints 'ready PID' once, then 'tick N' per tick."""
import os
import sys
import time

SESSIONS = {}


class Session:
    def __init__(self, sid):
        self.sid = sid
        self.payload = bytearray(48 * 1024)  # CAUSE


def handle(sid):
    SESSIONS[sid] = Session(sid)


def main():
    print("ready %d" % os.getpid(), flush=True)
    sid = 0
    tick = 0
    while True:
        for _ in range(24):  # about 1.1 MiB per tick
            handle(sid)
            sid += 1
        tick += 1
        print("tick %d" % tick, flush=True)
        time.sleep(0.25)


if __name__ == "__main__":
    sys.exit(main())
