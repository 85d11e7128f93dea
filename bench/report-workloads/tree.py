"""The dense case: a binary tree built by recursion and kept until the program ends, then torn down at exit
(after the peak, the commonest shape of a build-up). Each node is a list and a bytearray; the two recursive
calls are on lines of their own, so every path from the root is a stack of its own: about as many distinct
stacks as nodes, nearly every site live at the peak and changed after it. Tables of the reports kept per
site (peak values, live series) are at their densest here. Argument: nodes (1,048,575 = a full tree of
depth 19: 4.19 M allocations, ~8.4 M events with the teardown; not 50 M, as memray's summary of this one
already takes ~5.7 GB and 90 s)."""
import sys
import time


def build(n):
    node = [None, None, bytearray(48)]
    left = (n - 1) // 2
    right = n - 1 - left
    if left:
        node[0] = build(left)
    if right:
        node[1] = build(right)
    return node


def main(n):
    root = build(n)
    # Held a moment at its peak, as a program would use what it built.
    time.sleep(0.5)
    return len(root)


if __name__ == "__main__":
    main(int(sys.argv[1]))
