"""A run's config and summary as the SDK sends and expects them."""

import json
from typing import Any

from django.core.exceptions import ValidationError

from artifacts import jsonvalues

# The SDK's own bookkeeping (versions, telemetry, runtime); W&B hides it from the run page too.
INTERNAL_KEY = "_wandb"
MAX_JSON_CHARS = 1_000_000


def parse_json_object(raw: str | None, what: str) -> dict[str, Any] | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise ValidationError(f"The {what} must be a string holding JSON (W&B's JSONString).", code="invalid_json")
    if len(raw) > MAX_JSON_CHARS:
        raise ValidationError(f"The {what} is larger than {MAX_JSON_CHARS} characters.", code="too_large")
    value = jsonvalues.loads(raw, what)
    if not isinstance(value, dict):
        raise ValidationError(f"The {what} must be a JSON object.", code="invalid_json")
    return value


def config_from_wandb(raw: str | None) -> dict[str, Any] | None:
    """W&B's `{"lr": {"value": 0.1, "desc": null}}` -> `{"lr": 0.1}`, without the SDK's own `_wandb` entry."""
    config = parse_json_object(raw, "config")
    if config is None:
        return None
    return {
        key: item["value"] if isinstance(item, dict) and "value" in item else item
        for key, item in config.items()
        if key != INTERNAL_KEY
    }


def config_to_wandb(config: dict[str, Any]) -> str:
    return json.dumps({key: {"value": value} for key, value in (config or {}).items()})


def summary_from_wandb(raw: str | None) -> dict[str, Any] | None:
    summary = parse_json_object(raw, "summary")
    if summary is None:
        return None
    return {key: value for key, value in summary.items() if key != INTERNAL_KEY}
