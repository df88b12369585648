"""The app as `make wandb-conformance` serves it: every request goes to registry_site.wsgi unchanged, except
`GET /ready`, the readiness probe that W&B's `tools/local_wandb_server.py` waits for before the tests start (W&B's
server has it; this one has no such URL)."""

from collections.abc import Callable, Iterable
from typing import Any

from registry_site.wsgi import application as app


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/ready" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    return app(environ, start_response)
