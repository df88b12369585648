import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings

from tests.wandb_api.helpers import basic_auth, sdk_env

# The SDK retries some failures for minutes; every run gets a hard limit instead.
SDK_TIMEOUT = 120


@pytest.fixture
def run_sdk(live_server, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Run a Python script with the real `wandb` package against the live server; returns the finished process.

    `python` runs it with another interpreter, such as an older SDK's (helpers.sdk_venv)."""
    counter = iter(range(1000))

    def run(
        script: str,
        *,
        key: str,
        timeout: float = SDK_TIMEOUT,
        env: dict[str, str] | None = None,
        python: Path | str = sys.executable,
    ) -> subprocess.CompletedProcess:
        root = tmp_path / f"sdk{next(counter)}"
        root.mkdir()
        path = root / "script.py"
        path.write_text(textwrap.dedent(script))
        return subprocess.run(
            [python, str(path)],
            cwd=root,
            env=sdk_env(live_server.url, key, root) | (env or {}),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture
def gql(client) -> Callable[..., dict]:
    """POST one GraphQL document as the SDK does (no operationName); returns the decoded body, asserting 200."""

    def post(query: str, variables: dict | None = None, *, key: str) -> dict:
        response = client.post(
            "/graphql",
            data=json.dumps({"query": query, "variables": variables}),
            content_type="application/json",
            headers={"Authorization": basic_auth(key)},
        )
        assert response.status_code == 200, response.content
        return response.json()

    return post


@pytest.fixture
def gunicorn_url(transactional_db, settings) -> Iterator[str]:
    """This project served as `make run` serves it (gunicorn), on the test database and the test's DATA_DIR.

    Django's test server keeps a connection open after a response fails half-way; gunicorn closes it, as a
    client that must see a cut-short download needs."""
    from django.db import connection

    from tests.test_s3_storage import free_port

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        database_url = f"sqlite:///{db['NAME']}"
    else:
        password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
        database_url = f"postgres://{quote(db['USER'])}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(settings.DATA_DIR),
        "MANIFEST_STATIC": "false",
        # URLs signed here (by the test) are good there.
        "SECRET_KEY": settings.SECRET_KEY,
    }
    server = subprocess.Popen(
        [Path(sys.executable).with_name("gunicorn"), "registry_site.wsgi", "--bind", f"127.0.0.1:{port}"]
        + ["--workers", "1", "--threads", "4", "--timeout", "120"],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=30)
