"""W&B's run filters and orders (`wandb.Api().runs(path, filters, order)`, MongoDB-style) as ORM conditions.

This subset, and nothing else (anything outside it is refused with a ValidationError that says what is
supported):

- fields: `name` (the run id), `display_name` / `displayName`, `state`, `job_type` / `jobType`,
  `created_at` / `createdAt` (ISO 8601), `tags`, `config.<key>[.<key>...]` (W&B's `config.<key>.value` means
  the same), `summary_metrics.<key>[.<key>...]` (or `summary.<key>`);
- on a field: a bare value (equality), `$eq`, `$ne`, `$in`, `$nin`; `$gt`, `$gte`, `$lt`, `$lte` on
  `created_at`, config and summary values; `$exists` on config and summary values; on `tags`: a tag (the run
  has it), `$in` (any of), `$nin` (none of), `$all`, `$ne`;
- combining: several fields in one object (all must hold), `$and`, `$or`, `$nor`.

As in MongoDB, `$ne` and `$nin` also match runs that lack the value, and `null` matches a missing value.
`$regex` is not offered: it would run a client's expression in the database. `state: "crashed"` finds running
runs whose heartbeat stopped (Run.current_state).
"""

import functools
import operator
from collections.abc import Iterable
from datetime import UTC, datetime, time
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    JSONField,
    OrderBy,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.expressions import Expression
from django.db.models.fields.json import (
    KeyTransform,
    KeyTransformExact,
    KeyTransformGt,
    KeyTransformGte,
    KeyTransformIn,
    KeyTransformIsNull,
    KeyTransformLt,
    KeyTransformLte,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from artifacts.models import Run, RunState, RunTag

# A filter is a client's document: these bound the SQL it turns into.
MAX_CONDITIONS = 100
MAX_LIST = 1000

FIELDS = {
    "name": "run_id",
    "display_name": "display_name",
    "displayName": "display_name",
    "state": "state",
    "job_type": "job_type",
    "jobType": "job_type",
    "created_at": "created_at",
    "createdAt": "created_at",
    "tags": "tags",
}
JSON_COLUMNS = {"config": "config", "summary_metrics": "summary", "summary": "summary"}
COMPARISONS = {"$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}
JSON_COMPARISONS = {"$gt": KeyTransformGt, "$gte": KeyTransformGte, "$lt": KeyTransformLt, "$lte": KeyTransformLte}
TEXT_OPERATORS = ("$eq", "$ne", "$in", "$nin")
SUPPORTED_FIELDS = "name, display_name, state, job_type, created_at, tags, config.<key>, summary_metrics.<key>"


def _refuse(message: str) -> ValidationError:
    return ValidationError(f"Unsupported run filter: {message}", code="unsupported_filter")


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_CONDITIONS

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise _refuse(f"more than {MAX_CONDITIONS} conditions.")


def runs_q(filters: dict[str, Any] | None) -> Q:
    """The condition a run of the filtered project must meet; ValidationError for what is not supported."""
    if filters is None:
        return Q()
    if not isinstance(filters, dict):
        raise _refuse("filters must be a JSON object.")
    return _document(filters, _Budget())


def _document(doc: Any, budget: _Budget) -> Q:
    if not isinstance(doc, dict):
        raise _refuse(f"expected an object of conditions, got {_show(doc)}.")
    q = Q()
    for key, value in doc.items():
        budget.spend()
        if key in ("$and", "$or", "$nor"):
            if not isinstance(value, list) or not value:
                raise _refuse(f"{key} takes a non-empty list of conditions.")
            parts = [_document(part, budget) for part in value]
            if key == "$and":
                q &= functools.reduce(operator.and_, parts)
            else:
                either = functools.reduce(operator.or_, parts)
                q &= ~either if key == "$nor" else either
        elif key.startswith("$"):
            raise _refuse(f"the operator {key} is not supported here (use $and, $or, $nor, or a field).")
        else:
            q &= _field(key, value, budget)
    return q


def _operators(field: str, value: Any, allowed: tuple[str, ...]) -> list[tuple[str, Any]]:
    """`{"$op": operand, ...}` -> [(op, operand)]; a bare value is equality."""
    if isinstance(value, dict) and any(str(k).startswith("$") for k in value):
        ops = list(value.items())
    else:
        ops = [("$eq", value)]
    for op, _ in ops:
        if op not in allowed:
            hint = " ($regex is not offered)" if op == "$regex" else ""
            raise _refuse(f"the operator {op} on '{field}'{hint}: use one of {', '.join(allowed)}.")
    return ops


def _field(key: str, value: Any, budget: _Budget) -> Q:
    column, dot, path = key.partition(".")
    if column in JSON_COLUMNS and dot:
        return _json_field(key, JSON_COLUMNS[column], path, value, budget)
    if key not in FIELDS:
        raise _refuse(f"the field '{key}': use one of {SUPPORTED_FIELDS}.")
    name = FIELDS[key]
    if name == "tags":
        return _tags(key, value, budget)
    allowed = TEXT_OPERATORS + (tuple(COMPARISONS) if name == "created_at" else ())
    q = Q()
    for op, operand in _operators(key, value, allowed):
        budget.spend()
        if name == "created_at":
            operand = [_datetime(key, v) for v in operand] if op in ("$in", "$nin") else _datetime(key, operand)
        elif op in ("$in", "$nin"):
            operand = [_text(key, v) for v in _list(key, op, operand)]
        else:
            operand = _text(key, operand)
        if name == "state":
            q &= _state(op, operand)
        elif op in COMPARISONS:
            q &= Q(**{f"{name}__{COMPARISONS[op]}": operand})
        elif op in ("$in", "$nin"):
            cond = Q(**{f"{name}__in": operand})
            q &= ~cond if op == "$nin" else cond
        else:
            cond = Q(**{name: operand})
            q &= ~cond if op == "$ne" else cond
    return q


def _crashed() -> Q:
    return Q(state=RunState.RUNNING, heartbeat_at__lt=timezone.now() - Run.RUNNING_UNTIL)


def _state_is(state: str) -> Q:
    """Runs whose current state (Run.current_state) is `state`."""
    if state == RunState.CRASHED:
        return _crashed()
    if state == RunState.RUNNING:
        return Q(state=RunState.RUNNING) & ~_crashed()
    return Q(state=state)


def _state(op: str, operand: Any) -> Q:
    states = operand if op in ("$in", "$nin") else [operand]
    for state in states:
        if state not in RunState.values:
            raise _refuse(f"there is no run state '{state}': states are {', '.join(RunState.values)}.")
    q = _any(_state_is(state) for state in states)
    return ~q if op in ("$ne", "$nin") else q


def _tags(key: str, value: Any, budget: _Budget) -> Q:
    q = Q()
    for op, operand in _operators(key, value, ("$eq", "$ne", "$in", "$nin", "$all")):
        budget.spend()
        names = [_text(key, v) for v in (_list(key, op, operand) if op in ("$in", "$nin", "$all") else [operand])]
        if op == "$all":
            for name in names:
                q &= Q(Exists(RunTag.objects.filter(run=OuterRef("pk"), name=name)))
            continue
        has = Q(Exists(RunTag.objects.filter(run=OuterRef("pk"), name__in=names)))
        q &= ~has if op in ("$ne", "$nin") else has
    return q


def _json_field(key: str, column: str, path: str, value: Any, budget: _Budget) -> Q:
    parts = path.split(".")
    if column == "config" and len(parts) > 1 and parts[-1] == "value":
        parts = parts[:-1]  # W&B keeps config as {"lr": {"value": 0.1}} and filters on config.lr.value
    if not all(parts):
        raise _refuse(f"'{key}' has an empty key in its path.")
    expr = _json_path(column, parts)
    allowed = ("$eq", "$ne", "$in", "$nin", "$exists", *COMPARISONS)
    q = Q()
    for op, operand in _operators(key, value, allowed):
        budget.spend()
        if op == "$exists":
            if not isinstance(operand, bool):
                raise _refuse(f"$exists on '{key}' takes true or false.")
            q &= _known(KeyTransformIsNull(expr, not operand))
        elif op in COMPARISONS:
            if not isinstance(operand, int | float) or isinstance(operand, bool):
                raise _refuse(f"{op} on '{key}' compares numbers, not {_show(operand)}.")
            # JSON orders values of different types too (true > 1 > "a" in PostgreSQL): only numbers compare.
            q &= _known(IsNumber(expr)) & _known(JSON_COMPARISONS[op](expr, operand))
        elif op in ("$in", "$nin"):
            values = [_scalar(key, v) for v in _list(key, op, operand)]
            present = [v for v in values if v is not None]
            conditions = [_absent(expr)] if None in values else []
            if present:
                conditions.append(_known(KeyTransformIn(expr, present)))
            cond = _any(conditions)
            q &= ~cond if op == "$nin" else cond
        else:
            operand = _scalar(key, operand)
            cond = _absent(expr) if operand is None else _known(KeyTransformExact(expr, operand))
            q &= ~cond if op == "$ne" else cond
    return q


def _any(conditions: Iterable[Q]) -> Q:
    """Any of `conditions`; none at all matches no run."""
    return functools.reduce(operator.or_, conditions, Q(pk__in=[]))


class IsNumber(Func):
    """Whether a JSON value (a KeyTransform) is a number."""

    output_field = BooleanField()
    template = "jsonb_typeof(%(expressions)s) = 'number'"

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        # SQLite's KeyTransform yields null, true and false as text, numbers as numbers.
        return self.as_sql(compiler, connection, template="typeof(%(expressions)s) IN ('integer', 'real')", **extra)


def _json_path(column: str, parts: list[str]) -> Expression:
    """The value at `parts` in a JSON column, as an expression: a key may hold `__` or a lookup's name, which
    the ORM's `config__a__b` spelling would misread. The wrapper types the column, so operands are encoded as
    JSON as in that spelling."""
    expr: Expression = ExpressionWrapper(F(column), output_field=JSONField())
    for part in parts:
        expr = KeyTransform(part, expr)
    return expr


def _known(lookup: Expression) -> Q:
    """A comparison that is false, never unknown, where the value is missing: its negation then matches those
    runs, as MongoDB's $ne and $nin do."""
    return Q(Coalesce(lookup, Value(False), output_field=BooleanField()))


def _absent(expr: Expression) -> Q:
    """The value is missing or null."""
    return _known(KeyTransformIsNull(expr, True)) | _known(KeyTransformExact(expr, None))


def _list(key: str, op: str, operand: Any) -> list:
    if not isinstance(operand, list):
        raise _refuse(f"{op} on '{key}' takes a list.")
    if len(operand) > MAX_LIST:
        raise _refuse(f"{op} on '{key}' takes at most {MAX_LIST} values.")
    return operand


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _refuse(f"'{key}' is compared with text, not {_show(value)}.")
    return value


def _scalar(key: str, value: Any) -> Any:
    if isinstance(value, dict | list):
        raise _refuse(f"'{key}' is compared with a number, text or true/false, not {_show(value)}.")
    return value


def _datetime(key: str, value: Any) -> datetime:
    text = _text(key, value)
    try:
        parsed = parse_datetime(text)
        if parsed is None and (day := parse_date(text)) is not None:
            parsed = datetime.combine(day, time())
    except ValueError:
        parsed = None
    if parsed is None:
        raise _refuse(f"'{key}' takes an ISO 8601 time such as 2024-01-31T12:00:00Z, not {_show(value)}.")
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


ORDER_FIELDS = {
    "created_at": "created_at",
    "createdAt": "created_at",
    "heartbeat_at": "heartbeat_at",
    "heartbeatAt": "heartbeat_at",
    "name": "run_id",
    "display_name": "display_name",
    "displayName": "display_name",
}


def runs_order(order: str | None) -> list[OrderBy]:
    """W&B's order (`+created_at`, `-heartbeat_at`, `+config.lr.value`, `-summary_metrics.acc`; `+` is the
    default direction) as an ORM ordering, ties broken by id; missing or null config and summary values last."""
    order = (order or "+created_at").strip()
    descending = order.startswith("-")
    key = order.lstrip("+-")
    column, dot, path = key.partition(".")
    if column in JSON_COLUMNS and dot:
        parts = path.split(".")
        if column == "config" and len(parts) > 1 and parts[-1] == "value":
            parts = parts[:-1]
        if not all(parts):
            raise _refuse(f"the order '{order}' has an empty key in its path.")
        expr = _json_path(JSON_COLUMNS[column], parts)
        # Missing and null values last, in either direction (databases sort a JSON null differently).
        absent = Case(When(_absent(expr), then=Value(1)), default=Value(0))
        return [OrderBy(absent), OrderBy(expr, descending=descending), OrderBy(F("id"), descending=descending)]
    if key in ORDER_FIELDS:
        expr = F(ORDER_FIELDS[key])
    else:
        raise _refuse(
            f"the order '{order}': use created_at, heartbeat_at, name, display_name, config.<key> or "
            "summary_metrics.<key>, after + or -."
        )
    return [OrderBy(expr, descending=descending), OrderBy(F("id"), descending=descending)]
