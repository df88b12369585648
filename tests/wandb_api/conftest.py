import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.wandb_api.helpers import basic_auth, sdk_env

# The SDK retries some failures for minutes; every run gets a hard limit instead.
SDK_TIMEOUT = 120


@pytest.fixture
def run_sdk(live_server, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Run a Python script with the real `wandb` package against the live server; returns the finished process."""
    counter = iter(range(1000))

    def run(
        script: str, *, key: str, timeout: float = SDK_TIMEOUT, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        root = tmp_path / f"sdk{next(counter)}"
        root.mkdir()
        path = root / "script.py"
        path.write_text(textwrap.dedent(script))
        return subprocess.run(
            [sys.executable, str(path)],
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
