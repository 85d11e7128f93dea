"""A clean, bounded cache: functools.lru_cache(maxsize=64) in front of an expensive render. Keys keep
changing, so it fills up, then evicts the least recently used page for each new one: memory plateaus.
The verdict: no finding."""
import functools
import time


@functools.lru_cache(maxsize=64)
def render(page):
    return ("<html>" + ("row %d " % page) * 8000 + "</html>").encode()  # about 80 KiB


def main():
    total = 0
    for request in range(1_500):
        total += len(render(request % 400))
        time.sleep(0.001)
    print(total)


main()
