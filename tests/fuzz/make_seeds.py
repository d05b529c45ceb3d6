#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets from the repository's own files.

    tests/fuzz/make_seeds.py OUT_DIR

makes OUT_DIR/parser (every *.journey file of the repository), OUT_DIR/event_line (distinct
lines of every events.ndjson, plus hand-written edge cases) and OUT_DIR/http (hand-written
requests for every route of runtime/api.cpp, with and without bearer tokens, chunked bodies and
Expect headers). Files are named by the SHA-1 of their content, as libFuzzer names its corpus.
scripts/fuzz.sh runs it when a corpus is empty; the committed corpus grew from these seeds.
"""
import hashlib
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SKIP = {"build", ".git"}


def repo_files(pattern):
    for path in sorted(ROOT.rglob(pattern)):
        if not SKIP.intersection(path.relative_to(ROOT).parts):
            yield path


def write(out, data):
    if isinstance(data, str):
        data = data.encode()
    out.mkdir(parents=True, exist_ok=True)
    (out / hashlib.sha1(data).hexdigest()).write_bytes(data)


def parser_seeds(out):
    for path in repo_files("*.journey"):
        write(out, path.read_bytes())


def event_line_seeds(out):
    seen = set()
    for path in repo_files("*.ndjson"):
        lines = path.read_bytes().splitlines()
        if path.parts[-2] == "data":  # examples/data: a sample is enough
            lines = lines[:200]
        for line in lines:
            if line.strip() and line not in seen:
                seen.add(line)
    extra = [
        '{"type":"track","event":"e","userId":"u","timestamp":"2026-01-01T00:00:00Z"}',
        '{"event":"e","userId":"u","timestamp":"2026-01-01T00:00:00.250+08:00","properties":null}',
        '{"userId":"u","timestamp":"2026-01-01T00:00:00Z","traits":{"a":[1,2.5,-0,1e10,true,null]}}',
        '{"type":"identify","userId":"u","timestamp":"2026-01-01T00:00:00Z","messageId":null}',
        '{"type":"track","event":"e","userId":"u","userId":"v","timestamp":"2026-01-01T00:00:00Z"}',
        '{"type":"track","event":"e\\u00e9","userId":"u","timestamp":"2026-01-01T00:00:00Z"}',
        '{"type":"track","event":"e","userId":"u","timestamp":"2026-01-01T00:00:00Z","properties":{"n":1e308,"m":-1E-300}}',
        '{"type":"track","event":"e","userId":"u","timestamp":"2026-01-01T00:00:00Z","properties":{"d":{"d":{"d":[[[]]]}}}}',
        '  {"type" : "track" , "event":"e","userId":"u","timestamp":"2026-02-29T00:00:00Z"}  ',
        '{"type":"page","userId":"u","timestamp":"2026-01-01T00:00:00Z"}',
        '{"type":"track","event":"","userId":"u","timestamp":"2026-01-01T00:00:00Z"}',
        '{"type":"track","event":"e","userId":"u","timestamp":"2026-13-01T00:00:00Z"}',
    ]
    for line in sorted(seen) + [e.encode() for e in extra]:
        write(out, line)


TOKENS = {"": None, "ingest": "ingest-secret", "read": "read-secret", "admin": "admin-secret"}


def request(method, target, body=None, token=None, headers=(), chunked=False, version="1.1"):
    lines = [f"{method} {target} HTTP/{version}", "Host: localhost"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    lines.extend(headers)
    payload = b""
    if body is not None:
        raw = body.encode() if isinstance(body, str) else body
        lines.append("Content-Type: application/json")
        if chunked:
            lines.append("Transfer-Encoding: chunked")
            half = len(raw) // 2
            for part in (raw[:half], raw[half:]):
                if part:
                    payload += b"%x\r\n" % len(part) + part + b"\r\n"
            payload += b"0\r\n\r\n"
        else:
            lines.append(f"Content-Length: {len(raw)}")
            payload = raw
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def http_seeds(out):
    track = json.dumps({"type": "track", "event": "signup", "userId": "c1", "messageId": "m1",
                        "timestamp": "2026-05-31T12:00:00Z", "properties": {"plan": "pro", "sku": "s1"}})
    identify = json.dumps({"type": "identify", "userId": "c1", "timestamp": "2026-05-31T11:00:00Z",
                           "traits": {"name": "Ana", "timezone": "Europe/Berlin", "country": "DE",
                                      "phone": "+49", "points": 10,
                                      "consent": {"email": True, "push": True, "sms": True}}})
    batch = json.dumps({"batch": [
        json.loads(identify),
        {"type": "track", "event": "signup", "userId": "c1", "properties": {"plan": "pro", "sku": "s1"}},
        {"type": "track", "event": "view", "userId": "c1", "timestamp": "2026-05-31T12:10:00Z",
         "properties": {"sku": "s1"}},
        {"type": "track", "event": "cart", "userId": "c1", "timestamp": "2026-05-31T12:20:00Z",
         "properties": {"sku": "s1"}},
        {"type": "track", "event": "order", "userId": "c2", "timestamp": "2026-05-01T12:00:00Z",
         "properties": {"amount": 120.5}},
        {"type": "identify", "userId": "c2", "traits": {"seen_at": "2026-05-01T00:00:00Z", "points": 3,
                                                         "tier": "gold"}},
    ]})
    lint_ok = (ROOT / "stdlib-journeys" / "welcome.journey").read_text()
    routes = [
        ("POST", "/v1/track", track, "ingest"),
        ("POST", "/v1/track", '{"event":"cart","userId":"c9","properties":{"sku":"x"}}', "ingest"),
        ("POST", "/v1/identify", identify, "ingest"),
        ("POST", "/v1/batch", batch, "ingest"),
        ("GET", "/v1/customers/c1", None, "read"),
        ("GET", "/v1/customers/c%201/explain", None, "read"),
        ("DELETE", "/v1/customers/c1", None, "admin"),
        ("POST", "/v1/lint", lint_ok, "read"),
        ("POST", "/v1/lint", "journey x {\n  entry on a\n  send email \"t\"\n}\n", "read"),
        ("GET", "/v1/journeys", None, "read"),
        ("POST", "/v1/journeys/reload", "", "admin"),
        ("GET", "/metrics", None, "read"),
        ("GET", "/ui", None, "read"),
        ("GET", "/ui/journeys/onboarding?part=live", None, "read"),
        ("GET", "/ui/journeys/onboarding", None, "read"),
        ("GET", "/ui/customers?id=c1", None, "read"),
        ("GET", "/ui/customers?id=%3Cscript%3Ex%3C%2Fscript%3E", None, "read"),
        ("POST", "/ui/login", "token=read-secret&next=%2Fui%2Fcustomers", ""),
        ("POST", "/ui/logout", "", ""),
        ("GET", "/healthz", None, ""),
        ("GET", "/readyz", None, ""),
    ]
    for flags in (0, 1):  # bit 0 of the first byte: the daemon has tokens
        for method, target, body, scope in routes:
            token = TOKENS[scope] if flags else None
            write(out, bytes([flags]) + request(method, target, body, token))
        # A connection: identify, track, batch, then read the customer back (pipelined).
        conn = b"".join(request(m, t, b, TOKENS[s] if flags else None) for m, t, b, s in
                        (routes[2], routes[0], routes[3], routes[4], routes[5]))
        write(out, bytes([flags]) + conn)
    # Tokens: missing, wrong, lacking the scope, odd case of the scheme.
    write(out, b"\x01" + request("POST", "/v1/track", track))
    write(out, b"\x01" + request("POST", "/v1/track", track, "nope"))
    write(out, b"\x01" + request("POST", "/v1/track", track, "read-secret"))
    write(out, b"\x01" + request("GET", "/v1/customers/c1", None, None, ["Authorization: bearer both-secret"]))
    # Chunked bodies and Expect: 100-continue.
    write(out, b"\x00" + request("POST", "/v1/batch", batch, chunked=True))
    write(out, b"\x01" + request("POST", "/v1/track", track, "ingest-secret", ["Expect: 100-continue"]))
    write(out, b"\x00" + request("POST", "/v1/identify", identify, None, ["Expect: 100-continue"], chunked=True))
    # Tight limits (bit 1): a body over 512 bytes, a batch over 3 items, depth over 8.
    write(out, b"\x02" + request("POST", "/v1/batch", batch))
    write(out, b"\x02" + request("POST", "/v1/track", '{"event":"e","userId":"u","properties":{"a":[[[[[[[[1]]]]]]]]}}'))
    # Bad input: malformed JSON, wrong types, far timestamps, numbers out of range, bad methods.
    bad = [
        ("POST", "/v1/track", '{"event":'),
        ("POST", "/v1/track", '{"event":"e","userId":"u","timestamp":"2036-01-01T00:00:00Z"}'),
        ("POST", "/v1/track", '{"event":"e","userId":"u","properties":{"n":1e999}}'),
        ("POST", "/v1/identify", '{"type":"track","userId":"u"}'),
        ("POST", "/v1/batch", '{"batch":{}}'),
        ("POST", "/v1/batch", '{"batch":[1,{"type":"track"}]}'),
        ("POST", "/v1/batch", '{"batch":[],"batch":[{"event":"e","userId":"u"}]}'),
        ("GET", "/v1/track", None),
        ("PUT", "/v1/customers/c1", ""),
        ("GET", "/v1/customers/%zz", None),
        ("GET", "/v1/customers/a/b", None),
        ("GET", "/v1/nope?x=1", None),
        ("POST", "/healthz", ""),
    ]
    for method, target, body in bad:
        write(out, b"\x00" + request(method, target, body))
    # HTTP/1.0 (closes after one request), and malformed HTTP.
    write(out, b"\x00" + request("GET", "/healthz", None, version="1.0") + request("GET", "/readyz", None))
    write(out, b"\x00GET /healthz HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
    write(out, b"\x00POST /v1/track HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    write(out, b"\x00GARBAGE\r\n\r\n")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = pathlib.Path(sys.argv[1])
    parser_seeds(out / "parser")
    event_line_seeds(out / "event_line")
    http_seeds(out / "http")
    for name in ("parser", "event_line", "http"):
        print(f"{name}: {len(list((out / name).iterdir()))} seeds")


if __name__ == "__main__":
    main()
