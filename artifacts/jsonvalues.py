"""JSON from outside, with bounded nesting and size: one helper wherever JSON enters (API bodies, metadata,
config, summary, manifests) and wherever a stored value is shown.

Python's parser and the template engine recurse once per level, so a deep enough value raises RecursionError
(a 500) wherever it is read or rendered. Values are checked right after parsing, with a walk that does not
recurse, and refused with a ValidationError that names the limit.
"""

import json
from typing import Any

from django.core.exceptions import ValidationError

# W&B configs, summaries and metadata nest a few levels; this leaves ample room and is far below the recursion
# limit of every reader (json, the ORM, templates).
MAX_DEPTH = 64


def depth(value: Any) -> int:
    """How deeply containers nest in `value` (a scalar is 0, `{}` and `[]` are 1), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list | tuple))
    return deepest


def check_depth(value: Any, what: str = "value", max_depth: int = MAX_DEPTH) -> None:
    if depth(value) > max_depth:
        raise ValidationError(
            f"The {what} is nested more than {max_depth} levels deep.", code="too_deep", params={"what": what}
        )


def loads(raw: str | bytes | bytearray, what: str = "body", max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON text, refusing invalid JSON and values nested more than `max_depth` levels."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise ValidationError(f"The {what} is nested more than {max_depth} levels deep.", code="too_deep") from None
    except ValueError:
        raise ValidationError(f"The {what} is not valid JSON.", code="invalid_json") from None
    check_depth(value, what, max_depth)
    return value


def as_text(value: Any, limit: int = 10_000) -> str:
    """JSON text of a stored value for display (keys sorted), cut at `limit` characters; never raises."""
    try:
        text = json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
    except (RecursionError, ValueError):
        return "(nested too deeply to show)"
    return text if len(text) <= limit else text[:limit] + "…"
