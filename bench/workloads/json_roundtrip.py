# JSON/dict-heavy code: documents built as dicts, dumped to text and parsed back, then walked (the
# encoder's and decoder's strings, dicts and lists all come from pymalloc).
import json


def document(i):
    return {
        "id": i,
        "user": {"name": f"user-{i}", "email": f"user{i}@example.com", "roles": ["reader", "writer"][: 1 + i % 2]},
        "items": [{"sku": f"sku-{i}-{k}", "qty": k, "price": k * 1.25} for k in range(i % 8)],
        "active": i % 3 == 0,
    }


def work():
    total = 0
    for round_ in range(30):
        docs = [document(round_ * 1000 + i) for i in range(1000)]
        text = json.dumps(docs)
        back = json.loads(text)
        total += sum(len(d["items"]) + len(d["user"]["name"]) for d in back)
    return total


work()
