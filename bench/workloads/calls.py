# Call-heavy pure Python that allocates almost nothing: recursion and small-integer arithmetic (about 2.7
# million calls). A profiler that does work on every call pays here; one that works on allocations does not.
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def work():
    return sum(fib(20) for _ in range(120))


if __name__ == "__main__":
    work()
