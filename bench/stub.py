"""The zero-work stub: answers each request with a recorded response, doing nothing else.

$BENCH_STUB is a JSON list of responses ({"status", "headers", "body" (base64)}). A request with the header
`X-Bench-Seq: N` gets response N; any other request gets `{"data": {}}`. The body is read and dropped (a server
must receive the bytes), nothing is parsed, nothing touches a database.
"""

import base64
import json
import os

CANNED = (200, [("Content-Type", "application/json"), ("Content-Length", "12")], b'{"data": {}}')
_RESPONSES = []
if os.environ.get("BENCH_STUB"):
    with open(os.environ["BENCH_STUB"]) as f:
        for r in json.load(f):
            body = base64.b64decode(r["body"])
            headers = [(k, v) for k, v in r["headers"] if k.lower() not in ("content-length", "connection")]
            _RESPONSES.append((r["status"], [*headers, ("Content-Length", str(len(body)))], body))
STATUS = {200: "200 OK", 201: "201 Created", 204: "204 No Content", 400: "400 Bad Request", 404: "404 Not Found"}


def application(environ, start_response):
    stream = environ["wsgi.input"]
    while stream.read(1024 * 1024):
        pass
    seq = environ.get("HTTP_X_BENCH_SEQ")
    status, headers, body = _RESPONSES[int(seq)] if seq is not None else CANNED
    start_response(STATUS.get(status, f"{status} Recorded"), headers)
    return [body]
