# Pure-Python object churn: small dicts, lists and strings (pymalloc's path, few calls to malloc).
def record(i):
    return {"id": i, "name": "item-%d" % i, "tags": [i % 7, i % 11, str(i)]}


def work():
    total = 0
    batch = []
    for i in range(600_000):
        batch.append(record(i))
        if len(batch) == 1000:
            total += sum(len(r["name"]) for r in batch)
            batch = []
    return total


work()
