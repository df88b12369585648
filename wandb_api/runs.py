"""A run's config, summary and history as the SDK sends and expects them."""

import json
import logging
from typing import Any

from django.core.exceptions import ValidationError

from artifacts import jsonvalues

logger = logging.getLogger(__name__)

MAX_JSON_CHARS = 1_000_000
# What the SDK adds to every history row.
HISTORY_OWN_KEYS = ("_step", "_runtime", "_timestamp")
# W&B's default number of samples for `history`.
DEFAULT_SAMPLES = 500


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
    """W&B's `{"lr": {"value": 0.1, "desc": null}}` -> `{"lr": 0.1}`. The SDK's own `_wandb` entry (versions,
    telemetry, metric definitions) is kept, as W&B keeps it: `Api().run(...).update()` sends it back from
    `rawconfig`, and a resumed run merges parts of it."""
    config = parse_json_object(raw, "config")
    if config is None:
        return None
    return {key: item["value"] if isinstance(item, dict) and "value" in item else item for key, item in config.items()}


def config_to_wandb(config: dict[str, Any]) -> str:
    return json.dumps({key: {"value": value} for key, value in (config or {}).items()})


def summary_from_wandb(raw: str | None) -> dict[str, Any] | None:
    """The summary as sent, the SDK's `_wandb` entry included (W&B keeps it: a resumed run reads its runtime)."""
    return parse_json_object(raw, "summary")


def history_from_wandb(lines: list[str]) -> list[dict[str, Any]]:
    """The SDK's history lines (one JSON object each) as rows. A line too large to keep keeps only the SDK's own
    `_step`, `_runtime` and `_timestamp`, with a warning: refusing it would stop the run's stream."""
    rows = []
    for number, line in enumerate(lines):
        row = jsonvalues.loads(line, "history line")
        if not isinstance(row, dict):
            raise ValidationError(
                f"History line {number + 1} of the request is not a JSON object.", code="invalid_json"
            )
        if len(line) > MAX_JSON_CHARS:
            logger.warning(
                "Dropped the values of history step %s: larger than %s characters.", row.get("_step"), MAX_JSON_CHARS
            )
            row = {key: row[key] for key in HISTORY_OWN_KEYS if key in row}
        rows.append(row)
    return rows


def sampled_history_spec(raw: str) -> dict[str, Any]:
    """One `sampledHistory` spec, `{"keys": [...], "samples": N, "minStep": a, "maxStep": b}` (maxStep included,
    unlike `history`'s), as the arguments of queries.history_rows."""
    spec = parse_json_object(raw, "sampledHistory spec") or {}
    keys = spec.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(key, str) for key in keys):
        raise ValidationError('A sampledHistory spec needs "keys": a list of metric names.', code="invalid")
    samples, min_step, max_step = spec.get("samples", DEFAULT_SAMPLES), spec.get("minStep"), spec.get("maxStep")
    for name, value in (("samples", samples), ("minStep", min_step), ("maxStep", max_step)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValidationError(f'"{name}" in a sampledHistory spec must be an integer.', code="invalid")
    return {
        "keys": list(dict.fromkeys(keys)),
        "samples": samples if samples is not None else DEFAULT_SAMPLES,
        "min_step": min_step,
        "max_step": max_step + 1 if max_step is not None else None,
    }
