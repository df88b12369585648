"""Helpers for the hostile-input tests: what was stored, before and after."""

import json
from pathlib import Path

from django.conf import settings


def stored_files() -> set[str]:
    """Every file under the storage and temporary directories (relative paths)."""
    roots = [Path(settings.STORAGES["default"]["OPTIONS"]["location"]), Path(settings.DATA_DIR) / "tmp"]
    return {str(p) for root in roots if root.exists() for p in root.rglob("*") if p.is_file()}


def nested(depth: int, leaf: object = 1) -> object:
    """A value `depth` containers deep, alternating objects and lists."""
    value = leaf
    for level in range(depth):
        value = {"k": value} if level % 2 else [value]
    return value


def nested_text(depth: int) -> str:
    """JSON text nested `depth` levels deep, built without recursion (json.dumps itself would recurse)."""
    return '{"k":' * depth + "1" + "}" * depth


def post_json(client, url: str, body: object | str, key: str):
    from tests.wandb_api.helpers import basic_auth

    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(url, data=data, content_type="application/json", headers={"Authorization": basic_auth(key)})
