"""JSON from outside, with bounded nesting and size: one helper wherever JSON enters (API bodies, metadata,
config, summary, manifests) and wherever a stored value is shown.

Python's parser and the template engine recurse once per level, so a deep enough value raises RecursionError
(a 500) wherever it is read or rendered. Values are checked right after parsing, with a walk that does not
recurse, and refused with a ValidationError that names the limit.
"""

import json
import math
from typing import Any

from django.core.exceptions import ValidationError

from artifacts import names

# W&B configs, summaries and metadata nest a few levels; this leaves ample room and is far below the recursion
# limit of every reader (json, the ORM, templates).
MAX_DEPTH = 64
# JSON's text has no NaN or Infinity and neither do the databases' JSON columns; W&B logs them (a loss of NaN is
# common), so they are kept as these strings.
NON_FINITE = {"NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity"}


def check(value: Any, what: str = "value", max_depth: int = MAX_DEPTH) -> None:
    """Refuse a value nested more than `max_depth` levels deep, or holding NaN/Infinity, unpaired surrogates or
    NUL characters, which no database JSON column or page can store (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            if names.is_unstorable_text(item):
                raise ValidationError(
                    f"The {what} holds text that is not valid Unicode (an unpaired surrogate or a NUL character).",
                    code="invalid_text",
                )
            continue
        if isinstance(item, float) and not math.isfinite(item):
            raise ValidationError(f"The {what} holds {item}, which JSON cannot store.", code="not_finite")
        if isinstance(item, dict):
            children = [*item.keys(), *item.values()]
        elif isinstance(item, list | tuple):
            children = list(item)
        else:
            continue
        if level > max_depth:
            raise ValidationError(f"The {what} is nested more than {max_depth} levels deep.", code="too_deep")
        stack.extend((child, level + 1) for child in children)


def _number(text: str) -> float | str:
    number = float(text)
    return number if math.isfinite(number) else ("Infinity" if number > 0 else "-Infinity")


def loads(raw: str | bytes | bytearray, what: str = "body", max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON text, refusing invalid JSON and values `check` refuses; NaN and ±Infinity become strings."""
    try:
        value = json.loads(raw, parse_constant=NON_FINITE.__getitem__, parse_float=_number)
    except RecursionError:
        raise ValidationError(f"The {what} is nested more than {max_depth} levels deep.", code="too_deep") from None
    except ValueError:
        raise ValidationError(f"The {what} is not valid JSON.", code="invalid_json") from None
    check(value, what, max_depth)
    return value


def as_text(value: Any, limit: int = 10_000) -> str:
    """JSON text of a stored value for display (keys sorted), cut at `limit` characters; never raises."""
    try:
        text = json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
    except (RecursionError, ValueError):
        return "(nested too deeply to show)"
    return text if len(text) <= limit else text[:limit] + "…"
