"""A run's config and summary as the SDK sends them, and the one write the services lack: updating them."""

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from artifacts import permissions
from artifacts.models import Run
from artifacts.permissions import User

# The SDK's own bookkeeping (versions, telemetry, runtime); W&B hides it from the run page too.
INTERNAL_KEY = "_wandb"
MAX_JSON_CHARS = 1_000_000


def parse_json_object(raw: str | None, what: str) -> dict[str, Any] | None:
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_JSON_CHARS:
        raise ValidationError(f"The {what} is larger than {MAX_JSON_CHARS} characters.", code="too_large")
    try:
        value = json.loads(raw)
    except ValueError:
        raise ValidationError(f"The {what} is not valid JSON.", code="invalid_json") from None
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


@transaction.atomic
def run_update(
    *,
    run: Run,
    user: User,
    config: dict[str, Any] | None = None,
    summary: dict[str, Any] | None = None,
    display_name: str | None = None,
    job_type: str | None = None,
) -> Run:
    """Replace what is given (config, summary, display name, job type) on an existing run."""
    project = run.project
    permissions.require_change(user, project.entity, visible=permissions.can_view_project(user, project))
    changed = {}
    if config is not None:
        changed["config"] = config
    if summary is not None:
        changed["summary"] = summary
    if display_name:
        changed["display_name"] = display_name[: Run._meta.get_field("display_name").max_length]
    if job_type:
        changed["job_type"] = job_type[: Run._meta.get_field("job_type").max_length]
    if changed:
        for field, value in changed.items():
            setattr(run, field, value)
        run.save(update_fields=[*changed, "updated_at"])
    return run
