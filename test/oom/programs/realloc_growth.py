"""A list grown by appends in a loop, one element at a time, to several MiB."""


def build():
    out = []
    for i in range(500_000):
        out.append(i)  # GROWTH-LINE
    return len(out)


build()
