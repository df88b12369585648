"""A WSGI app for tests/test_gunicorn_worker.py, served by gunicorn with make run's configuration.

`/hold/<name>` writes `<name>.started` (holding the worker's pid) under BUSY_APP_DIR, then answers only once
`<name>.release` appears there; any other path answers the worker's pid at once.
"""

import os
import time
from pathlib import Path


def application(environ, start_response):
    root = Path(os.environ["BUSY_APP_DIR"])
    path = environ["PATH_INFO"]
    if path.startswith("/hold/"):
        name = path.removeprefix("/hold/")
        (root / f"{name}.started").write_text(str(os.getpid()))
        deadline = time.monotonic() + 30
        while not (root / f"{name}.release").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
