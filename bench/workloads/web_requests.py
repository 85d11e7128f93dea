# A web-style request loop: parse a raw HTTP request, route it, run a handler that builds a response from
# a small in-memory table, render headers and a JSON body. Short-lived strings, dicts and lists per request.
import json
from urllib.parse import parse_qs, urlsplit

USERS = {i: {"id": i, "name": f"user{i}", "score": i * 7 % 100} for i in range(500)}


def parse(raw):
    head, _, body = raw.partition("\r\n\r\n")
    lines = head.split("\r\n")
    method, target, version = lines[0].split(" ")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    url = urlsplit(target)
    return {"method": method, "path": url.path, "query": parse_qs(url.query), "headers": headers, "body": body}


def user(req):
    uid = int(req["path"].rsplit("/", 1)[1])
    return 200, USERS.get(uid, {"error": "not found"})


def search(req):
    lo = int(req["query"].get("min", ["0"])[0])
    hits = [u for u in USERS.values() if u["score"] >= lo][:20]
    return 200, {"count": len(hits), "users": hits}


ROUTES = [("/users/", user), ("/search", search)]


def handle(raw):
    req = parse(raw)
    for prefix, fn in ROUTES:
        if req["path"].startswith(prefix):
            status, payload = fn(req)
            break
    else:
        status, payload = 404, {"error": "no route"}
    body = json.dumps(payload)
    headers = [f"HTTP/1.1 {status} OK", "Content-Type: application/json", f"Content-Length: {len(body)}"]
    return "\r\n".join(headers) + "\r\n\r\n" + body


def work():
    total = 0
    for i in range(20_000):
        path = f"/users/{i % 600}" if i % 4 else f"/search?min={i % 90}&page=1"
        raw = f"GET {path} HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench/{i}\r\nAccept: */*\r\n\r\n"
        total += len(handle(raw))
    return total


work()
