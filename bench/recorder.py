"""A bench-only WSGI wrapper around the app that records every request and response to $BENCH_RECORD (JSON lines).

`GET /__bench__/mark/<name>` is answered here and only writes a marker: the SDK script sends one before and after
the flow it measures. Served by gunicorn with one worker, so the file is written by one process.
"""

import base64
import io
import json
import os
import threading
import time

from registry_site.wsgi import application as app

LOG = os.environ.get("BENCH_RECORD", "/dev/null")
_lock = threading.Lock()


def _write(record: dict) -> None:
    with _lock, open(LOG, "a") as f:
        f.write(json.dumps(record) + "\n")


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/__bench__/mark/"):
        _write({"mark": path.rsplit("/", 1)[1], "t0": time.time()})
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    t0 = time.time()
    body = environ["wsgi.input"].read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    captured = {}

    def capture(status, response_headers, exc_info=None):
        captured["status"], captured["headers"] = status, response_headers
        return start_response(status, response_headers, exc_info)

    result = app(environ, capture)
    try:
        chunks = list(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    _write(
        {
            "t0": t0,
            "t1": time.time(),
            "method": environ["REQUEST_METHOD"],
            "path": path,
            "query": environ.get("QUERY_STRING", ""),
            "headers": headers,
            "body": base64.b64encode(body).decode(),
            "status": int(captured["status"].split()[0]),
            "response_headers": captured["headers"],
            "response": base64.b64encode(b"".join(chunks)).decode(),
        }
    )
    return chunks
