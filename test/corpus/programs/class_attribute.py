"""A class attribute used as a log of every payload a handler saw: shared by all instances, it outlives
each of them and grows for the whole run. The verdict: memory accumulated at Handler.handle."""
import time


class Handler:
    seen = []  # one list for the class: every instance appends to it

    def handle(self, request):
        payload = bytearray(64 * 1024)  # CAUSE
        payload[0] = request % 256
        self.seen.append(payload)
        return len(payload)


def main():
    for request in range(600):
        Handler().handle(request)
        time.sleep(0.002)


main()
