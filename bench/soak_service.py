"""A day of a Python service, compressed in time, for the soak benchmark (bench/soak.ts): each iteration is
one minute of the day. Per minute: four worker threads start and end (a thread per job, all day long), 200
(or REQUESTS_PER_MINUTE) requests allocate and drop about 4 MiB in blocks of 256 B to 64 KiB from stacks of varying depth (so that
the set of stacks keeps moving), and a cache of recent results keeps about 40 MiB live, replaced as it
goes (live sampled blocks come and go). usage: soak_service.py MINUTES [REQUESTS_PER_MINUTE]"""
import sys
import threading

CACHE = []
CACHE_SIZE = 400  # entries of about 100 KiB


def handle(req, depth):
    if depth > 0:
        return handle(req, depth - 1)
    scratch = [bytearray(256 << (i % 9)) for i in range(req % 24 + 12)]
    result = bytearray(100 * 1024 + req % 4096)
    del scratch
    return result


def job(minute):
    return [bytearray(4096) for _ in range(64 + minute % 64)]


def main(minutes, per_minute):
    req = 0
    for minute in range(minutes):
        threads = [threading.Thread(target=job, args=(minute,), name="job-%d-%d" % (minute, i)) for i in range(4)]
        for t in threads:
            t.start()
        for _ in range(per_minute):
            r = handle(req, req % 48)
            req += 1
            CACHE.append(r)
            if len(CACHE) > CACHE_SIZE:
                del CACHE[: len(CACHE) - CACHE_SIZE]
        for t in threads:
            t.join()


main(int(sys.argv[1]) if len(sys.argv) > 1 else 1440, int(sys.argv[2]) if len(sys.argv) > 2 else 200)
