"""W&B's MongoDB-style JSON filters and `+field`/`-field` orders for the Registry's lists (registries,
collections, versions), translated to Django Q objects over the fields each list allows.

Only what the SDK's `api.registries()` and its `collections()` / `versions()` send: comparison operators
(`$eq $ne $in $nin $gt $gte $lt $lte`), `$regex` (anywhere in the value) and `$contains` (a substring), combined
with `$and $or $nor $not`. Anything else is refused with a clear error, never ignored.
"""

import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q

from wandb_api import ids

# A field: the ORM path its values compare with, or a function from (operator lookup, operand) to a Q.
Field = str | Callable[[str, Any], Q]
Fields = dict[str, Field]

LOOKUPS = {
    "$eq": "exact",
    "$in": "in",
    "$gt": "gt",
    "$gte": "gte",
    "$lt": "lt",
    "$lte": "lte",
    "$regex": "regex",
    "$contains": "contains",
}
NEGATED = {"$ne": "$eq", "$nin": "$in"}
MAX_DEPTH = 10
MAX_REGEX = 200


def _field_q(fields: Fields, name: str, condition: Any, depth: int) -> Q:
    field = fields.get(name)
    if field is None and "." in name and "metadata" in fields:
        key = name.split(".", 1)[1]
        field = f"{fields['metadata']}__{'__'.join(key.split('.'))}"
    if field is None:
        raise ValidationError(f"Filter on one of {', '.join(sorted(fields))}, not {name!r}.", code="unsupported_filter")
    if not isinstance(condition, dict):
        condition = {"$eq": condition}
    q = Q()
    for op, operand in condition.items():
        if op == "$not":
            q &= ~_field_q(fields, name, operand, depth + 1)
            continue
        negate = op in NEGATED
        lookup = LOOKUPS.get(NEGATED.get(op, op))
        if lookup is None:
            raise ValidationError(f"Unsupported filter operator {op!r}.", code="unsupported_filter")
        if lookup == "in" and not isinstance(operand, list):
            raise ValidationError(f"{op} takes a list.", code="invalid_filter")
        if lookup == "regex":
            if not isinstance(operand, str) or len(operand) > MAX_REGEX:
                raise ValidationError(f"$regex takes a pattern of at most {MAX_REGEX} characters.")
            try:
                re.compile(operand)
            except re.error as exc:
                raise ValidationError(f"Invalid $regex {operand!r}: {exc}.", code="invalid_filter") from None
        one = field(lookup, operand) if callable(field) else Q(**{f"{field}__{lookup}": operand})
        q &= ~one if negate else one
    return q


def to_q(filters: dict[str, Any] | None, fields: Fields, depth: int = 0) -> Q:
    """The Q object for a parsed filter over `fields` (name -> ORM path or builder)."""
    if depth > MAX_DEPTH:
        raise ValidationError("The filter nests too deep.", code="invalid_filter")
    q = Q()
    for key, value in (filters or {}).items():
        if key in ("$and", "$or", "$nor"):
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise ValidationError(f"{key} takes a list of filters.", code="invalid_filter")
            parts = [to_q(v, fields, depth + 1) for v in value]
            if key == "$and":
                for part in parts:
                    q &= part
            else:
                either = Q(pk__in=[])
                for part in parts:
                    either |= part
                q &= ~either if key == "$nor" else either
        elif key == "$not":
            if not isinstance(value, dict):
                raise ValidationError("$not takes a filter.", code="invalid_filter")
            q &= ~to_q(value, fields, depth + 1)
        else:
            q &= _field_q(fields, key, value, depth)
    return q


def id_field(path: str, type_name: str) -> Callable[[str, Any], Q]:
    """A field compared by W&B's global id (`base64("Type:pk")`) or the bare row id."""

    def decode(value: Any) -> int | None:
        if isinstance(value, int):
            return value
        key = ids.parse_int_key(value) if isinstance(value, str) and value.isdigit() else None
        if key is not None:
            return key
        try:
            return ids.decode_int(value, type_name)
        except Exception:  # noqa: BLE001 - an unknown id matches nothing
            return None

    def build(lookup: str, operand: Any) -> Q:
        if lookup == "in":
            return Q(**{f"{path}__in": [decode(v) for v in operand]})
        if lookup not in ("exact", "gt", "gte", "lt", "lte"):
            raise ValidationError(f"Ids are compared with $eq, $ne, $in or $nin, not {lookup}.")
        return Q(**{f"{path}__{lookup}": decode(operand)})

    return build


def version_field(path: str) -> Callable[[str, Any], Q]:
    """A version as W&B names it (`v3`), compared by its index."""

    def index(value: Any) -> int | None:
        text = str(value)
        key = ids.parse_int_key(text[1:] if text.startswith("v") else text)
        return key

    def build(lookup: str, operand: Any) -> Q:
        if lookup == "in":
            return Q(**{f"{path}__in": [index(v) for v in operand]})
        if lookup in ("regex", "contains"):
            raise ValidationError("Versions are compared with $eq, $ne, $in, $nin and ranges.")
        return Q(**{f"{path}__{lookup}": index(operand)})

    return build


def order_by(order: str | None, fields: dict[str, str], default: tuple[str, ...]) -> tuple[str, ...]:
    """The ORM ordering for `+field` / `-field` (a bare name ascends), ending on the primary key."""
    if not order:
        return default
    sign, name = (order[0], order[1:]) if order[0] in "+-" else ("+", order)
    path = fields.get(name)
    if path is None:
        raise ValidationError(f"Order by one of {', '.join(sorted(fields))}, not {name!r}.", code="unsupported")
    prefix = "-" if sign == "-" else ""
    return (f"{prefix}{path}", f"{prefix}pk")
